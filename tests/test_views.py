"""Stored augmented views (augment.views): drawn deterministically, never flipped, served with their own teacher outputs."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import PROJECT_ROOT
from project import without_timings
from test_stages import DISTILL, TRAINING, baseline_recipe, teacher_recipe
from distillation.training.hints import project_hints
from distillation.models.networks import with_hidden_output
from distillation.config.params import ParamsError, load_params, validate
from distillation.data.prepared import PreparedSplit, load_prepared
from distillation.targets.teacher_logits import load_teacher_hidden, save_teacher_hidden
from distillation.targets.view_targets import load_view_targets, write_view_targets
from distillation.data.views import load_views, to_pixels
from stages.augment import augment
from stages.convert import convert
from distillation.targets.ensemble import teacher_outputs
from stages.train_student import train_student
from distillation.training.student import method_teacher_outputs, view_training_batches
from stages.train_teacher import train_teacher

SHIPPED = load_params(PROJECT_ROOT / "params.yaml")
SETTINGS = SHIPPED.augment.changed(views=3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_letters_mat):
    """Tiny prepared splits, a one-epoch teacher, its hints and three stored views of each training image."""
    directory = tmp_path_factory.mktemp("views")
    convert(tiny_letters_mat, directory / "prepared", 0.1, seed=0)
    splits = load_prepared(directory / "prepared")
    teacher, _ = train_teacher(splits, teacher_recipe(epochs=1), seed=0)
    logits, hidden = teacher_outputs(teacher, splits)
    save_teacher_hidden(directory / "hidden.npz", hidden, splits)
    augment(splits["train"], SETTINGS, seed=7, directory=directory / "views")
    views = load_views(directory / "views", splits["train"], 3)
    write_view_targets(directory / "targets", teacher, views, load_teacher_hidden(directory / "hidden.npz", splits)["train"], 16)
    return directory, splits, teacher, {"logits": logits, "hidden": hidden}, views


def test_views_are_deterministic_and_the_first_of_more_views(tiny, tmp_path):
    _, splits, _, _, views = tiny
    again, _ = augment(splits["train"], SETTINGS, seed=7, directory=tmp_path / "again")
    np.testing.assert_array_equal(again, views.images)
    more, _ = augment(splits["train"], SHIPPED.augment.changed(views=5), seed=7, directory=tmp_path / "more")
    np.testing.assert_array_equal(more[:views.images.shape[0]], views.images)  # K = 3 is a prefix of K = 5
    other, _ = augment(splits["train"], SETTINGS, seed=8, directory=tmp_path / "other")
    assert not np.array_equal(other, views.images)
    # Every view moved its image, and not beyond recognition.
    count = splits["train"].labels.shape[0]
    pixels = to_pixels(splits["train"].images).astype(int)
    for view in range(3):
        change = np.abs(views.images[view * count:(view + 1) * count].astype(int) - pixels).mean(axis=(1, 2))
        assert (change > 0).all()


def best_correlation(views: np.ndarray, references: np.ndarray, reach: int = 3) -> np.ndarray:
    """Per row: the largest correlation of a view with its reference shifted by up to ``reach`` px."""
    a = views.reshape(len(views), -1).astype(float)
    a = a - a.mean(1, keepdims=True)
    best = np.full(len(views), -1.0)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            b = np.roll(references, (dy, dx), axis=(1, 2)).reshape(len(references), -1).astype(float)
            b = b - b.mean(1, keepdims=True)
            best = np.maximum(best, (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1) + 1e-12))
    return best


def test_a_view_of_a_real_letter_is_that_letter_not_its_mirror_image(real_sample, tmp_path):
    # Real letters unlike their own mirror image (b, d, …: a flip makes another letter or none).
    convert(real_sample, tmp_path / "prepared", 0.1, seed=0)
    train = load_prepared(tmp_path / "prepared")["train"]
    pixels = to_pixels(train.images)
    asymmetric = np.flatnonzero(best_correlation(pixels, pixels[:, :, ::-1]) < 0.5)[:400]
    subset = PreparedSplit(train.images[asymmetric], train.labels[asymmetric], train.classes)
    stored, _ = augment(subset, SHIPPED.augment.changed(views=2), seed=0, directory=tmp_path / "views")
    views = np.asarray(stored)  # the stored views are read from their file, a few rows at a time
    originals = np.concatenate([to_pixels(subset.images)] * 2)
    # Shifts allowed in both, so only the shape counts.
    assert (best_correlation(views, originals) > best_correlation(views, originals[:, :, ::-1])).all()


def blob_triangle_orientation(images: np.ndarray) -> np.ndarray:
    """Sign of the turn brightest blob → middle blob → faintest blob in each image (+1 or −1)."""
    from scipy import ndimage

    signs = []
    for image in images:
        labelled, count = ndimage.label(image > 20)
        peaks = ndimage.maximum(image, labelled, range(1, count + 1))
        centres = ndimage.center_of_mass(image, labelled, range(1, count + 1))
        brightest, middle, faintest = (np.array(centres[i]) for i in np.argsort(peaks)[::-1][:3])
        first, second = middle - brightest, faintest - brightest
        signs.append(np.sign(first[0] * second[1] - first[1] * second[0]))
    return np.array(signs)


@pytest.mark.parametrize("bounds", ["shipped", "largest allowed"])
def test_no_view_mirrors_its_image(tmp_path, bounds):
    # Three blobs of three inks: a mirror image (a flip) would reverse the turn they make.
    image = np.zeros((28, 28, 1), np.float32)
    image[8:12, 8:12], image[8:12, 16:20], image[16:20, 12:16] = 1.0, 0.6, 0.3  # near the centre: no view cuts one off
    split = PreparedSplit(np.repeat(image[None], 50, axis=0), np.zeros(50, np.int32), ("a",))
    largest = {"rotation_degrees": 30, "scale": 0.3, "shear": 0.5, "shift_pixels": 3, "elastic_alpha": 4}
    knobs = SHIPPED.augment.changed(views=4, **(largest if bounds == "largest allowed" else {}))
    views = np.asarray(augment(split, knobs, seed=0, directory=tmp_path / "views")[0])
    own = blob_triangle_orientation(to_pixels(split.images[:1]))[0]
    assert own == -blob_triangle_orientation(to_pixels(split.images[:1])[:, :, ::-1])[0]  # the mirror turns the other way
    assert (blob_triangle_orientation(views) == own).all()


@pytest.mark.parametrize(("key", "value"), [("augment.views", -1), ("augment.rotation_degrees", 90), ("augment.scale", 1.5)])
def test_params_that_would_flip_or_make_no_sense_are_refused_naming_the_key(key, value):
    section, name = key.split(".")
    raw = SHIPPED.model_dump(by_alias=True)
    raw[section][name] = value
    with pytest.raises(ParamsError, match=key.replace(".", r"\.")):
        validate(raw)


def test_each_view_comes_with_the_teachers_outputs_for_that_view(tiny):
    directory, splits, teacher, outputs, views = tiny
    train = splits["train"]
    stored = load_view_targets(directory / "targets", views, ("logits", "hidden"), 16)
    teacher_outputs_ = {kind: {**outputs[kind], "views": stored[kind]["views"]} for kind in ("logits", "hidden")}
    settings = DISTILL.changed(method="fitnets", epochs=2, batch_size=50, fitnets={"hint_weight": 1.0, "hint_components": 16})
    prepared = method_teacher_outputs({**teacher_outputs_, "hint_basis": stored["hint_basis"]}, settings)
    batches = view_training_batches(splits, prepared, views, settings, seed=0)
    hidden_view, basis = with_hidden_output(teacher), stored["hint_basis"]
    epochs = []
    for _ in range(2):  # Keras iterates the dataset afresh each epoch
        labels, images_seen = [], []
        for images, targets in batches.dataset:
            hidden, logits = hidden_view.predict(images.numpy(), verbose=0)
            np.testing.assert_allclose(logits, targets["teacher_logits"].numpy(), atol=1e-4)
            # The hint targets: the teacher's hidden units for exactly these images (view or
            # original), in the stored directions. Views' hints were stored in float16.
            np.testing.assert_allclose(project_hints(hidden, basis["mean"], basis["basis"]), targets["teacher_hidden"].numpy(),
                                       atol=2e-2, rtol=2e-2)
            labels.append(targets["labels"].numpy())
            images_seen.append(images.numpy())
        labels = np.concatenate(labels)
        assert np.array_equal(np.sort(labels), np.sort(train.labels))  # each image once per epoch
        epochs.append(np.concatenate(images_seen))
    assert not np.array_equal(epochs[0], epochs[1])  # the next epoch draws other versions
    assert prepared["hidden"]["train"].shape == (train.labels.shape[0], 16)


def test_no_views_is_the_students_training_of_today(tiny):
    directory, splits, _, outputs, _ = tiny
    empty, metrics = augment(splits["train"], SHIPPED.augment.changed(views=0), 7, directory / "none")
    assert empty.shape[0] == 0 and metrics["rows"] == 0
    none = load_views(directory / "none", splits["train"], 0)
    settings = DISTILL.changed(epochs=2)
    today = train_student(splits, {"logits": outputs["logits"]}, settings, hidden_units=64, seed=0)[1]
    with_none = train_student(splits, {"logits": outputs["logits"]}, settings, hidden_units=64, seed=0, views=none)[1]
    assert without_timings(today) == without_timings(with_none)


def test_the_teachers_accuracy_on_the_views_counts_each_view_against_its_images_label(tiny):
    from distillation.targets.view_targets import LOGITS_FILE
    from stages.view_targets import view_accuracy

    directory, splits, teacher, _, views = tiny
    labels = splits["train"].labels
    stored = np.load(directory / "targets" / LOGITS_FILE, allow_pickle=False)
    predicted = teacher.predict(np.asarray(views.images, np.float32)[..., None] / 255.0, verbose=0).argmax(axis=1)
    expected = np.mean(predicted == np.tile(labels, views.views))  # row v·N + i is a view of image i
    assert view_accuracy(stored, labels) == pytest.approx(expected, abs=1e-6)
    assert view_accuracy(stored[:0], labels) == 0.0


def test_a_student_trains_on_the_views_with_the_teachers_outputs_for_them(tiny):
    directory, splits, _, outputs, views = tiny
    stored = load_view_targets(directory / "targets", views, ("logits",), 16)
    teacher = {"logits": {**outputs["logits"], "views": stored["logits"]["views"]}}
    settings = DISTILL.changed(epochs=2)
    student, metrics = train_student(splits, teacher, settings, hidden_units=64, seed=0, views=views)
    today = train_student(splits, {"logits": outputs["logits"]}, settings, hidden_units=64, seed=0)[1]
    assert metrics["views"] == 3 and today["views"] == 0
    # Two epochs, each showing an image as one of its 4 versions: 1.5 views of it, each version 0.5 times.
    assert (metrics["views_shown_per_image"], metrics["showings_per_version"]) == (1.5, 0.5)
    assert "views_shown_per_image" not in today
    assert metrics["val_loss"] != today["val_loss"]  # other images seen: other weights
    assert student.get_layer("hidden").units == 64


def test_stale_views_are_refused(tiny, tmp_path):
    directory, splits, _, _, views = tiny
    with pytest.raises(ValueError, match="augment.views is 4"):
        load_views(directory / "views", splits["train"], 4)
    other = PreparedSplit(splits["train"].images[::-1].copy(), splits["train"].labels[::-1].copy(), splits["train"].classes)
    with pytest.raises(ValueError, match="another train split"):
        load_views(directory / "views", other, 3)
    with pytest.raises(ValueError, match="hint_components is 8"):
        load_view_targets(directory / "targets", views, ("hidden",), 8)


def test_hard_labels_without_views_is_the_baseline(tiny):
    from stages.train_baseline import train_baseline

    _, splits, _, _, _ = tiny
    settings = baseline_recipe(hidden_units=64)
    baseline = train_baseline(splits, settings, seed=3)[1]
    control = train_student(splits, {}, DISTILL.changed(**TRAINING, method="hard_labels"), hidden_units=64, seed=3)[1]
    assert control["val_accuracy"] == pytest.approx(baseline["val_accuracy"], abs=1e-6)
    assert control["test_accuracy"] == pytest.approx(baseline["test_accuracy"], abs=1e-6)


def test_views_rerun_neither_convert_nor_the_teacher(tmp_path, trained_repo):
    from project import clone_trained, stages_to_run

    project = clone_trained(trained_repo, tmp_path / "project")
    ran = stages_to_run(project, {"augment": {"views": 2}})
    assert {"augment", "view_targets", "train_student", "evaluate"} <= ran
    assert not ran & {"source", "convert", "train_teacher", "soft_targets", "train_baseline"}, ran
    # A view knob re-draws the views; the teacher still does not train.
    ran = stages_to_run(project, {"augment": {"views": 2, "rotation_degrees": 5}})
    assert "augment" in ran and "train_teacher" not in ran


def test_soft_targets_streams_the_outputs_that_one_pass_gives(tiny, tmp_path):
    from distillation.targets.teacher_logits import load_teacher_logits
    from stages.soft_targets import store_teacher_outputs

    _, splits, teacher, outputs, _ = tiny
    store_teacher_outputs(teacher, splits, tmp_path / "logits.npz", tmp_path / "hidden.npz")
    logits, hidden = load_teacher_logits(tmp_path / "logits.npz", splits), load_teacher_hidden(tmp_path / "hidden.npz", splits)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(logits[split], outputs["logits"][split])
        np.testing.assert_array_equal(hidden[split], outputs["hidden"][split].astype(np.float16))
    # Deflated (ReLU activations hold many zeros): well below the float16 arrays' own size.
    assert (tmp_path / "hidden.npz").stat().st_size < 0.8 * sum(array.nbytes for array in hidden.values())


def test_stored_rows_are_read_in_the_order_asked(tiny):
    _, _, _, _, views = tiny
    everything = np.asarray(views.images)
    rows = np.array([5, 0, 5, len(everything) - 1, 3])
    np.testing.assert_array_equal(views.images[rows], everything[rows])
    np.testing.assert_array_equal(views.images[2:4], everything[2:4])
    np.testing.assert_array_equal(views.images[7], everything[7])


@pytest.mark.parametrize("dtype, width", [(np.uint8, (28, 28)), (np.float16, (128,)), (np.float32, (26,))])
def test_stored_rows_read_across_many_blocks_are_the_rows_asked(tmp_path, dtype, width):
    from distillation.data.views import StoredRows

    values = (np.random.default_rng(0).random((3000, *width)) * 200).astype(dtype)
    np.save(tmp_path / "rows.npy", values)
    stored = StoredRows(tmp_path / "rows.npy")
    stored.READ_BYTES = 4096  # blocks of a few rows, so one read spans many
    rows = np.random.default_rng(1).integers(0, 3000, 2000)
    np.testing.assert_array_equal(stored[rows], values[rows])
    np.testing.assert_array_equal(stored[100:2900], values[100:2900])
    assert stored[np.array([], dtype=np.int64)].shape == (0, *width)
    with pytest.raises(IndexError, match="rows outside 0 … 2999"):
        stored[np.array([3000])]


def _mixup_batches(tiny, alpha: float, seed: int = 0):
    directory, splits, _, outputs, views = tiny
    stored = load_view_targets(directory / "targets", views, ("logits",), 16)
    teacher = {"logits": {**outputs["logits"], "views": stored["logits"]["views"]}}
    settings = DISTILL.changed(epochs=2, batch_size=50, kd={"t2_scale": True, "mixup": alpha})
    return list(view_training_batches(splits, teacher, views, settings, seed=seed).dataset)


def test_mixup_mixes_each_batch_with_itself_in_another_order_and_carries_both_targets(tiny):
    plain, mixed = _mixup_batches(tiny, 0.0), _mixup_batches(tiny, 0.4)
    assert "mixup_weight" not in plain[0][1]
    weights = []
    for (images, targets), (mixed_images, mixed_targets) in zip(plain, mixed):
        # The same versions in the same order as without mixup: mixup only mixes them.
        np.testing.assert_array_equal(mixed_targets["labels"], targets["labels"])
        weight = mixed_targets["mixup_weight"].numpy()
        assert np.all(weight == weight[0]) and 0.0 <= weight[0] <= 1.0
        weights.append(weight[0])
        # Whose targets the partner's are: the row of the batch with those very teacher logits.
        logits, partner_logits = targets["teacher_logits"].numpy(), mixed_targets["partner_teacher_logits"].numpy()
        partner = np.array([np.flatnonzero((logits == row).all(axis=1))[0] for row in partner_logits])
        assert sorted(partner) == list(range(len(partner)))  # a permutation of the batch
        np.testing.assert_array_equal(mixed_targets["partner_labels"], targets["labels"].numpy()[partner])
        np.testing.assert_allclose(mixed_images, weight[0] * images + (1 - weight[0]) * images.numpy()[partner], atol=1e-6)
    assert len(set(weights)) > 1  # a weight per batch
    again = _mixup_batches(tiny, 0.4)
    assert [batch[1]["mixup_weight"].numpy()[0] for batch in again] == weights  # repeatable from the seed
    other_seed = _mixup_batches(tiny, 0.4, seed=1)
    assert [batch[1]["mixup_weight"].numpy()[0] for batch in other_seed] != weights


@pytest.mark.parametrize("method", ["kd", "hard_labels"])
def test_mixed_targets_are_the_loss_against_mixed_labels_and_mixed_probabilities(method):
    import keras
    from distillation.methods import METHODS, method_trainer
    from distillation.methods.base import TrainingContext
    from distillation.training.mixup import with_mixed_targets

    rng = np.random.default_rng(0)
    own = {"t2_scale": False, "mixup": 0.4} if method == "kd" else {"mixup": 0.4}
    settings = METHODS[method].settings_from({"temp": 4.0, "lambda": 0.3, **own})
    context = TrainingContext(num_classes=5, steps_per_epoch=1, hidden_units=8, dropout=0.0)
    student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5)])
    plain = method_trainer(method)(student, settings, context)
    mixed = with_mixed_targets(method_trainer(method))(student, settings, context)
    assert type(mixed).__name__ == type(plain).__name__
    own = {"labels": np.array([0, 3, 1]), "teacher_logits": rng.normal(size=(3, 5)).astype("float32")}
    partner = {"labels": np.array([2, 2, 4]), "teacher_logits": rng.normal(size=(3, 5)).astype("float32")}
    student_logits = rng.normal(size=(3, 5)).astype("float32")
    weight = 0.3
    y = {**own, **{f"partner_{key}": value for key, value in partner.items()}, "mixup_weight": np.full(3, weight, "float32")}
    loss = float(mixed.compute_loss(y=y, y_pred=student_logits))
    expected = weight * float(plain.compute_loss(y=own, y_pred=student_logits)) + (1 - weight) * float(plain.compute_loss(y=partner, y_pred=student_logits))
    assert loss == pytest.approx(expected, rel=1e-5)
    # The same as one loss against the mixed one-hot labels and the mixed probabilities at T.
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    labels = weight * np.eye(5)[own["labels"]] + (1 - weight) * np.eye(5)[partner["labels"]]
    hard = -(labels * log_softmax(student_logits)).sum(axis=1).mean()
    if method == "kd":
        soft_targets = weight * np.exp(log_softmax(own["teacher_logits"] / 4)) + (1 - weight) * np.exp(log_softmax(partner["teacher_logits"] / 4))
        soft = -(soft_targets * log_softmax(student_logits / 4)).sum(axis=1).mean()
        hard = 0.3 * hard + soft
    assert loss == pytest.approx(hard, rel=1e-4)
    # Val batches carry no mixing: the method's own loss.
    assert float(mixed.compute_loss(y=own, y_pred=student_logits)) == pytest.approx(float(plain.compute_loss(y=own, y_pred=student_logits)))


def test_a_student_trains_on_mixed_views_repeatably_and_its_setting_says_so(tiny):
    directory, splits, _, outputs, views = tiny
    stored = load_view_targets(directory / "targets", views, ("logits",), 16)
    teacher = {"logits": {**outputs["logits"], "views": stored["logits"]["views"]}}
    settings = DISTILL.changed(epochs=2, kd={"t2_scale": True, "mixup": 0.2})
    metrics = train_student(splits, teacher, settings, hidden_units=64, seed=0, views=views)[1]
    again = train_student(splits, teacher, settings, hidden_units=64, seed=0, views=views)[1]
    unmixed = train_student(splits, teacher, settings.changed(kd={"mixup": 0.0}), hidden_units=64, seed=0, views=views)[1]
    assert "mixup=0.2" in metrics["setting"] and "mixup" not in unmixed["setting"]
    assert without_timings(metrics) == without_timings(again)
    assert metrics["val_loss"] != unmixed["val_loss"]


def test_mixup_without_views_is_refused_naming_the_key(tiny):
    _, splits, _, outputs, _ = tiny
    settings = DISTILL.changed(method="hard_labels", epochs=1, hard_labels={"mixup": 0.2})
    with pytest.raises(ValueError, match=r"^params.yaml: distill.hard_labels.mixup mixes stored views: it needs augment.views > 0, got 0$"):
        train_student(splits, {}, settings, hidden_units=16, seed=0)


def test_a_negative_mixup_is_refused_naming_the_key():
    params = SHIPPED.model_dump(by_alias=True)
    params["distill"]["kd"]["mixup"] = -0.1
    with pytest.raises(ParamsError, match=r"distill\.kd\.mixup must be greater than or equal to 0, got -0.1"):
        validate(params)


def test_a_student_on_k_views_is_fed_each_version_about_e_over_k_plus_1_times(monkeypatch):
    """What ``train_student`` hands to ``fit``, counted batch by batch: each epoch every image once,
    as each of its K + 1 versions alike, with the teacher's outputs for the version it shows."""
    import dataclasses

    import tensorflow as tf

    from distillation.data.views import StoredViews, views_seen
    from stages import train_student as stage
    from test_stages import SHIPPED_DISTILL, quadrant_splits

    views, epochs = 3, 24
    splits = quadrant_splits(16, seed=0)
    count = len(splits["train"].labels)  # 64 images, one step of 64 an epoch
    # Pixel (0, 0) names the image, pixel (0, 1) the version (0: the image itself, v + 1: its view v),
    # and the teacher's logit 0 names the version too.
    splits["train"].images[:, 0, 0, 0] = np.arange(count) / 255
    splits["train"].images[:, 0, 1, 0] = 0.0
    stored = np.repeat(to_pixels(splits["train"].images)[None], views, axis=0)
    stored[:, :, 0, 1] = np.arange(1, views + 1)[:, None]
    logits = {split: np.zeros((len(part.labels), 4), np.float32) for split, part in splits.items()}
    logits["views"] = np.zeros((views * count, 4), np.float32)
    logits["views"][:, 0] = np.repeat(np.arange(1, views + 1), count)
    fed: list[tuple[np.ndarray, np.ndarray]] = []
    real_fit = stage.fit_with_early_stopping

    def counting_fit(trainer, inputs, targets, *rest, **named):
        def record(images, teacher_logits):
            fed.append((np.rint(images[:, 0, :2, 0] * 255).astype(int), teacher_logits[:, 0].astype(int)))
            return images

        def counted(images, batch_targets):
            seen = tf.numpy_function(record, [images, batch_targets["teacher_logits"]], tf.float32, stateful=True)
            return tf.ensure_shape(seen, images.shape), batch_targets

        return real_fit(trainer, dataclasses.replace(inputs, dataset=inputs.dataset.map(counted)), targets, *rest, **named)

    monkeypatch.setattr(stage, "fit_with_early_stopping", counting_fit)
    settings = SHIPPED_DISTILL.changed(**{**TRAINING, "method": "kd", "epochs": epochs, "early_stopping": False})
    _, metrics = train_student(splits, {"logits": logits}, settings, 16, seed=3,
                               views=StoredViews(images=stored.reshape(-1, 28, 28), views=views, fingerprint="marked"))
    assert metrics["epochs"] == epochs and len(fed) == epochs  # one batch an epoch
    shown = np.zeros((count, views + 1), int)
    for markers, teacher_versions in fed:
        image, version = markers[:, 0], markers[:, 1]
        assert sorted(image) == list(range(count))  # every image once an epoch
        np.testing.assert_array_equal(teacher_versions, version)  # each version with its own teacher outputs
        np.add.at(shown, (image, version), 1)
    expected = views_seen(views, epochs)
    per_version = shown.sum(axis=0) / count  # showings of each version per image, averaged over the images
    assert per_version == pytest.approx(np.full(views + 1, expected["showings_per_version"]), rel=0.15), per_version
    assert shown[:, 1:].sum() / count == pytest.approx(expected["views_shown_per_image"], rel=0.1)
    assert (shown > 0).mean() > 0.95  # nearly every version of every image shown at least once


def test_the_views_shown_are_reported_to_two_decimals_and_a_batch_of_views_alone_is_gathered():
    from distillation.training.view_batches import gather
    from distillation.data.views import views_seen

    assert views_seen(16, 240) == {"views_shown_per_image": 225.88, "showings_per_version": 14.12}  # 3840/17, 240/17
    originals, views = np.arange(3) * 10, np.arange(6) + 100  # 3 images, 2 views of each
    np.testing.assert_array_equal(gather(originals, views, np.array([3, 8, 4])), [100, 105, 101])  # views only
    np.testing.assert_array_equal(gather(originals, views, np.array([2, 0])), [20, 0])  # originals only
    np.testing.assert_array_equal(gather(originals, views, np.array([1, 7])), [10, 104])


def test_each_pass_over_the_batches_serves_the_next_epochs_versions_in_order():
    from distillation.training.view_batches import gather, versions_batches
    from distillation.data.views import epoch_rows

    count, views, epochs = 12, 2, 4
    originals = np.arange(count, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    stored = (100 + np.arange(views * count, dtype=np.uint8))[:, None, None] * np.ones((1, 28, 28), np.uint8)
    labels = np.arange(count, dtype=np.int32)
    rows = epoch_rows(count, views, epochs, seed=5)
    batches = versions_batches(originals, stored, {"labels": labels}, {"labels": np.tile(labels, views)}, rows, batch_size=5)
    for epoch in range(epochs):  # Keras iterates the one-epoch dataset afresh each epoch
        shown = np.concatenate([np.rint(images.numpy()[:, 0, 0, 0] * 255) for images, _ in batches.dataset])
        np.testing.assert_array_equal(shown, gather(originals[:, 0, 0], stored[:, 0, 0], rows[epoch]), err_msg=f"epoch {epoch}")


def test_mixup_of_a_single_target_mixes_the_images_with_a_float_weight():
    """hard_labels on views has one target (the labels): the weight and the partner still come last."""
    from distillation.training.mixup import MIX_WEIGHT, PARTNER
    from distillation.training.view_batches import versions_batches
    from distillation.data.views import epoch_rows

    count = 8
    originals = (np.arange(count, dtype=np.uint8) * 20)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    labels = np.arange(count, dtype=np.int32)
    batches = versions_batches(originals, originals.copy(), {"labels": labels}, {"labels": labels},
                               epoch_rows(count, 1, 1, seed=0), batch_size=count, mixup=0.4, seed=3)
    [(images, targets)] = list(batches.dataset)
    weight, partner = targets[MIX_WEIGHT].numpy(), targets[PARTNER + "labels"].numpy()
    assert weight.dtype == np.float32 and np.all((weight >= 0) & (weight <= 1))
    own = targets["labels"].numpy()
    np.testing.assert_allclose(images.numpy()[:, 0, 0, 0], (weight * own * 20 + (1 - weight) * partner * 20) / 255, atol=1e-5)
