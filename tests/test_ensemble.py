"""An ensemble of teachers (``teacher.ensemble``): its members, their mean logits, and N = 1 as before."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import PROJECT_ROOT
from test_stages import teacher_recipe
from distillation.targets.ensemble import load_members, mean_logits, member_files, member_path, member_seeds
from distillation.config.params import ParamsError, load_params, validate
from distillation.data.prepared import load_prepared
from distillation.targets.teacher_logits import load_teacher_hidden, load_teacher_logits, save_teacher_logits
from distillation.targets.view_targets import LOGITS_FILE, HIDDEN_FILE, write_view_targets
from distillation.data.views import load_views
from stages.augment import augment
from stages.convert import convert
from stages.soft_targets import store_teacher_outputs
from distillation.targets.ensemble import teacher_outputs
from stages.train_teacher import train_members, train_teacher

SHIPPED = load_params(PROJECT_ROOT / "params.yaml")
TEACHER = teacher_recipe(epochs=1, dropout=0.25, replicate=0, ensemble=3, precision="float32")


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory, tiny_letters_mat):
    """Tiny splits, a one-epoch teacher (seed 5) and the two other members of its ensemble of three."""
    directory = tmp_path_factory.mktemp("ensemble")
    convert(tiny_letters_mat, directory / "prepared", 0.1, seed=0)
    splits = load_prepared(directory / "prepared")
    teacher, _ = train_teacher(splits, TEACHER, seed=5)
    metrics = train_members(splits, TEACHER, 5, directory / "members")
    return directory, splits, teacher, metrics


def test_members_are_seeded_after_the_teacher_and_trained_once_each(ensemble):
    directory, splits, teacher, metrics = ensemble
    assert member_seeds(5, 0, 3) == [5, 6, 7] and member_seeds(42, 3, 3) == [45, 46, 47]
    assert [member["seed"] for member in metrics["members"]] == [6, 7] and metrics["ensemble"] == 3
    assert [path.name for path in member_files(directory / "members")] == ["member-1.keras", "member-2.keras"]
    assert json.loads((directory / "members" / "members.json").read_text()) == {"ensemble": 3, "seeds": [5, 6, 7]}
    # Member 1 is the teacher that seed 6 trains alone: the same weights.
    alone, _ = train_teacher(splits, TEACHER, seed=6)
    for left, right in zip(load_members(directory / "members")[0].get_weights(), alone.get_weights()):
        np.testing.assert_array_equal(left, right)


def test_one_teacher_trains_no_member_and_leaves_a_folder_that_says_so(ensemble, tmp_path):
    _, splits, _, _ = ensemble
    metrics = train_members(splits, TEACHER.changed(ensemble=1), 5, tmp_path / "members")
    assert metrics == {"ensemble": 1, "members": []}
    assert load_members(tmp_path / "members") == []
    assert json.loads((tmp_path / "members" / "members.json").read_text())["seeds"] == [5]


def test_the_stored_logits_are_the_members_mean_and_the_hints_the_first_members(ensemble, tmp_path):
    directory, splits, teacher, _ = ensemble
    members = load_members(directory / "members")
    store_teacher_outputs(teacher, splits, tmp_path / "logits.npz", tmp_path / "hidden.npz", members)
    stored, hidden = load_teacher_logits(tmp_path / "logits.npz", splits), load_teacher_hidden(tmp_path / "hidden.npz", splits)
    alone_logits, alone_hidden = teacher_outputs(teacher, splits)
    for split in ("train", "val", "test"):
        each = [alone_logits[split], *(member.predict(splits[split].images, verbose=0) for member in members)]
        np.testing.assert_allclose(stored[split], np.mean(each, axis=0), rtol=1e-5, atol=1e-5)
        assert not np.allclose(stored[split], alone_logits[split])  # the members differ: the mean is not member 0
        np.testing.assert_array_equal(hidden[split], alone_hidden[split].astype(np.float16))
    # teacher_outputs (the in-memory path) gives the same mean.
    np.testing.assert_allclose(teacher_outputs(teacher, splits, members)[0]["test"], stored["test"], rtol=1e-5, atol=1e-5)


def test_without_members_the_stored_outputs_are_the_teachers_own_bit_for_bit(ensemble, tmp_path):
    _, splits, teacher, _ = ensemble
    store_teacher_outputs(teacher, splits, tmp_path / "one.npz", tmp_path / "one-hidden.npz", [])
    # The streamed path with no members writes what the teacher alone gives, array for array.
    alone_logits, alone_hidden = teacher_outputs(teacher, splits)
    save_teacher_logits(tmp_path / "alone.npz", alone_logits, splits)
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "alone.npz").read_bytes()
    np.testing.assert_array_equal(load_teacher_hidden(tmp_path / "one-hidden.npz", splits)["test"],
                                  alone_hidden["test"].astype(np.float16))
    one = [np.arange(6, dtype=np.float32).reshape(2, 3)]
    assert mean_logits(one) is one[0]


def test_the_members_mean_is_taken_in_float64_and_stored_in_float32_and_none_is_refused():
    members = [np.random.default_rng(seed).normal(0, 8, (500, 26)).astype(np.float32) for seed in range(3)]
    mean = mean_logits(members)
    assert mean.dtype == np.float32
    # float64 first: the same bytes in any order of the members, unlike a float32 sum
    np.testing.assert_array_equal(mean, np.mean(np.stack(members).astype(np.float64), axis=0).astype(np.float32))
    np.testing.assert_array_equal(mean, mean_logits(members[::-1]))
    assert not np.array_equal(mean, np.mean(np.stack(members), axis=0))  # a float32 mean differs somewhere
    with pytest.raises(ValueError, match="^an ensemble needs at least one member$"):
        mean_logits([])


def test_the_views_targets_are_the_members_mean_too(ensemble, tmp_path):
    directory, splits, teacher, _ = ensemble
    members = load_members(directory / "members")
    augment(splits["train"], SHIPPED.augment.changed(views=2), seed=7, directory=tmp_path / "views")
    views = load_views(tmp_path / "views", splits["train"], 2)
    _, hidden = teacher_outputs(teacher, splits)
    write_view_targets(tmp_path / "alone", teacher, views, hidden["train"].astype(np.float16), 0)
    write_view_targets(tmp_path / "ensemble", teacher, views, hidden["train"].astype(np.float16), 0, members)
    images = views.images[:].astype(np.float32)[..., None] / 255.0
    each = [np.load(tmp_path / "alone" / LOGITS_FILE), *(member.predict(images, verbose=0) for member in members)]
    np.testing.assert_allclose(np.load(tmp_path / "ensemble" / LOGITS_FILE), np.mean(each, axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.load(tmp_path / "ensemble" / HIDDEN_FILE), np.load(tmp_path / "alone" / HIDDEN_FILE))


def test_the_stages_store_the_mean_of_the_teacher_and_its_members(ensemble, tmp_path, monkeypatch):
    """soft_targets and view_targets as DVC runs them (their ``main``), in a project with one member
    beside the teacher: what they store is the two models' mean, not the teacher's own outputs."""
    import shutil

    import yaml

    from distillation.models.files import save_model
    from stages import soft_targets, view_targets

    directory, splits, teacher, _ = ensemble
    project = tmp_path / "project"
    shutil.copytree(directory / "prepared", project / "data" / "prepared")
    save_model(teacher, project / "models" / "teacher.keras")
    (project / "models" / "teacher_members").mkdir()
    shutil.copy(directory / "members" / "member-1.keras", project / "models" / "teacher_members")
    params = SHIPPED.model_dump(by_alias=True)
    params["teacher"]["ensemble"], params["augment"]["views"] = 2, 2
    params["teacher"]["precision"] = "float32"  # the passes then match Keras's float32 predictions on every CPU
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    augment(splits["train"], SHIPPED.augment.changed(views=2), seed=7, directory=project / "data" / "views")
    monkeypatch.chdir(project)
    soft_targets.main()
    view_targets.main()

    member = load_members(project / "models" / "teacher_members")[0]
    alone = teacher_outputs(teacher, splits)[0]
    stored = load_teacher_logits(project / "data" / "teacher_logits.npz", splits)
    for split in ("train", "val", "test"):
        expected = (alone[split] + member.predict(splits[split].images, verbose=0)) / 2
        np.testing.assert_allclose(stored[split], expected, rtol=1e-5, atol=1e-5)
        assert np.abs(stored[split] - alone[split]).max() > 1e-3  # not the first teacher's own
    assert json.loads((project / "metrics" / "soft_targets.json").read_text())["teachers"] == 2
    assert json.loads((project / "metrics" / "soft_targets.json").read_text())["precision"] == "float32"
    views = load_views(project / "data" / "views", splits["train"], 2)
    images = views.images[:].astype(np.float32)[..., None] / 255.0
    expected = (teacher.predict(images, verbose=0) + member.predict(images, verbose=0)) / 2
    stored_views = np.load(project / "data" / "view_targets" / LOGITS_FILE)
    np.testing.assert_allclose(stored_views, expected, rtol=1e-5, atol=1e-5)
    assert np.abs(stored_views - teacher.predict(images, verbose=0)).max() > 1e-3


def test_a_gap_in_the_members_is_refused_naming_the_folder(tmp_path):
    (tmp_path / "member-2.keras").write_bytes(b"")
    with pytest.raises(ValueError, match=r"members \[2\] are not 1 … 1; re-run `dvc repro train_teacher_members`"):
        member_files(tmp_path)
    with pytest.raises(ValueError, match="no folder of teacher members"):
        member_files(tmp_path / "absent")
    with pytest.raises(ValueError, match="member 0 is the teacher itself"):
        member_path(tmp_path, 0)


@pytest.mark.parametrize("value", [0, -1, 1.5, "three"])
def test_an_ensemble_of_no_teachers_is_refused_naming_the_key(value):
    raw = SHIPPED.model_dump(by_alias=True)
    raw["teacher"]["ensemble"] = value
    with pytest.raises(ParamsError, match="params.yaml: teacher.ensemble must be"):
        validate(raw)


def test_an_ensemble_never_retrains_its_first_teacher_and_one_teacher_is_the_lock_of_before(tmp_path, trained_repo):
    from project import changed_stages, clone_trained, dvc, stages_to_run

    project = clone_trained(trained_repo, tmp_path / "project")
    ran = stages_to_run(project, {"teacher": {"ensemble": 2}})
    assert {"train_teacher_members", "soft_targets", "view_targets", "train_student"} <= ran
    assert not ran & {"source", "convert", "train_teacher", "train_baseline", "export_teacher"}, ran
    # For real, through DVC: the member trains, the students learn from the pair, the teacher stays.
    before = (project / "models" / "teacher.keras").read_bytes()
    result = dvc("exp", "run", "-S", "teacher.ensemble=2", cwd=project, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Running stage 'train_teacher':" not in result.stdout
    assert (project / "models" / "teacher.keras").read_bytes() == before
    assert [path.name for path in member_files(project / "models" / "teacher_members")] == ["member-1.keras"]
    assert json.loads((project / "metrics" / "soft_targets.json").read_text())["teachers"] == 2
    assert json.loads((project / "metrics" / "soft_targets.json").read_text())["precision"] == "float32"
    # What soft_targets stored is the two models' mean, computed here from the saved models.
    from distillation.models.files import load_model

    splits = load_prepared(project / "data" / "prepared")
    teacher = load_model(project / "models" / "teacher.keras")
    [member] = load_members(project / "models" / "teacher_members")
    stored = load_teacher_logits(project / "data" / "teacher_logits.npz", splits)
    alone = teacher.predict(splits["test"].images, verbose=0)
    np.testing.assert_allclose(stored["test"], (alone + member.predict(splits["test"].images, verbose=0)) / 2, rtol=1e-5, atol=1e-5)
    assert np.abs(stored["test"] - alone).max() > 1e-3
    members = json.loads((project / "metrics" / "teacher_members.json").read_text())
    assert [member["seed"] for member in members["members"]] == [SHIPPED.seed + 1]
    # Back to one teacher: DVC's run-cache restores every output of before, the lock as it was.
    result = dvc("exp", "run", "-S", "teacher.ensemble=1", cwd=project, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Running stage 'train_teacher_members':" not in result.stdout, result.stdout[-2000:]
    assert changed_stages(project) == set()
    # One teacher again: the stored logits are that teacher's own.
    np.testing.assert_allclose(load_teacher_logits(project / "data" / "teacher_logits.npz", splits)["test"], alone,
                               rtol=1e-5, atol=1e-5)
    original = clone_trained(trained_repo, tmp_path / "original")
    for path in ("data/teacher_logits.npz", "models/student.keras"):
        assert (project / path).read_bytes() == (original / path).read_bytes(), path
