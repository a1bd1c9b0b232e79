"""params.yaml: the shipped file is valid; bad values and typos are named."""
from __future__ import annotations

import copy

import pytest
import yaml

from conftest import PROJECT_ROOT
from distillation.config.params import ParamsError, flatten, load_params, validate

SHIPPED = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


def with_value(key: str, value):
    params = copy.deepcopy(SHIPPED)
    node = params
    *parents, leaf = key.split(".")
    for parent in parents:
        node = node[parent]
    node[leaf] = value
    return params


def test_shipped_params_are_valid():
    params = load_params(PROJECT_ROOT / "params.yaml")
    assert params.distill.temp == 10 and params.distill.lambda_ == 0.5 and params.data.source == "synthetic"
    assert params.flat() == {key: value for key, value in flatten(SHIPPED).items()}  # every key, as -S names it


def test_values_given_as_strings_are_converted():
    params = validate(with_value("distill.temp", "10"))
    assert params.distill.temp == 10.0
    assert validate(with_value("distill.kd.t2_scale", "true")).distill.kd.t2_scale is True
    assert validate(with_value("teacher.epochs", "3")).teacher.epochs == 3


@pytest.mark.parametrize(
    "key, value",
    [
        ("distill.temp", 0),
        ("distill.dkd.beta", -1),
        ("distill.dml.peers", 1),
        ("distill.label_smoothing.epsilon", 1.0),
        ("distill.teacher_free.correct_probability", 1.0),
        ("distill.method", "fitnet"),
        ("distill.lambda", -0.1),
        ("data.val_fraction", 0.6),
        ("data.val_fraction", 0),
        ("teacher.epochs", 2.5),
        ("baseline.batch_size", 0),
        ("baseline.hidden_units", "many"),
        ("baseline.hidden_units", [256, 0]),
        ("baseline.hidden_units", []),
        ("distill.learning_rate", -1e-3),
        ("distill.kd.t2_scale", "maybe"),
        ("teacher.schedule", "one-cycle"),
        ("baseline.warmup_epochs", -1),
        ("distill.steps_per_execution", 0),
    ],
)
def test_bad_values_name_the_key(key, value):
    with pytest.raises(ParamsError, match=key.replace(".", r"\.")):
        validate(with_value(key, value))


def test_unknown_key_suggests_the_nearest():
    params = copy.deepcopy(SHIPPED)
    params["distill"]["tmp"] = 5
    with pytest.raises(ParamsError, match=r"unknown key 'distill\.tmp'.*'distill\.temp'"):
        validate(params)


@pytest.mark.parametrize("old, new", [("distill.kd.temp", "distill.temp"), ("distill.kd.lambda", "distill.lambda"),
                                      ("distill.dkd.temp", "distill.temp"), ("distill.fitnets.lambda", "distill.lambda"),
                                      ("distill.teacher_free.temp", "distill.temp"), ("distill.t2_scale", "distill.kd.t2_scale")])
def test_a_key_of_an_earlier_version_says_its_new_name_in_one_line(old, new):
    with pytest.raises(ParamsError) as error:
        validate(with_value(old, 10))
    assert str(error.value) == f"params.yaml: '{old}' is now '{new}'"


def test_each_method_reads_the_shared_knobs_it_declares_and_its_own_section():
    from distillation.config.identity import run_settings

    distill = load_params(PROJECT_ROOT / "params.yaml").distill

    def settings(method: str) -> dict:
        return distill.changed(method=method).settings.model_dump(by_alias=True)

    assert settings("kd") == {"temp": 10, "lambda": 0.5, "t2_scale": False, "mixup": 0.0}
    assert settings("hard_labels") == {"mixup": 0.0}
    assert set(settings("dkd")) == {"temp", "alpha", "beta", "warmup_epochs"}
    assert set(settings("fitnets")) == {"temp", "lambda", "hint_weight", "hint_components"}
    assert set(settings("teacher_free")) == {"temp", "lambda", "correct_probability"}
    assert set(settings("dml")) == {"peers", "cnn_peer"}
    assert set(settings("label_smoothing")) == {"epsilon"}
    # Params of an earlier version, temperature inside the section and no mixup, read the same.
    earlier = {"distill.method": "kd", "distill.kd.temp": 10, "distill.kd.lambda": 0.5, "distill.kd.t2_scale": False}
    assert run_settings(earlier) == distill.settings
    assert run_settings(earlier).label() == distill.settings.label() == "lambda=0.5, t2_scale=False, temp=10"


def test_each_method_section_of_params_yaml_holds_exactly_its_schema_and_valid_values():
    from distillation.methods import METHODS

    sections = {key: value for key, value in SHIPPED["distill"].items() if isinstance(value, dict)}
    assert set(sections) == set(METHODS)
    for name, spec in METHODS.items():
        assert set(sections[name] or {}) == set(spec.params.model_fields), name
        spec.params.model_validate(sections[name] or {})


def test_a_method_param_given_a_switch_for_a_number_is_named():
    with pytest.raises(ParamsError, match=r"distill\.dkd\.beta must be a number, not true or false, got True"):
        validate(with_value("distill.dkd.beta", True))


def test_a_warm_up_as_long_as_the_cosine_cycle_is_named_in_one_line():
    params = with_value("teacher.schedule", "cosine")
    params["teacher"]["epochs"], params["teacher"]["warmup_epochs"] = 3, 3
    with pytest.raises(ParamsError) as error:
        validate(params)
    assert str(error.value) == "params.yaml: teacher.warmup_epochs must be less than teacher.epochs (3) under schedule: cosine, got 3"
    params["teacher"]["warmup_epochs"] = 0.5
    assert validate(params).teacher.warmup_epochs == 0.5


def test_a_method_grid_may_sweep_training_knobs_but_not_params_the_method_never_reads():
    from dataclasses import replace

    from distillation.methods import method_spec

    kd, label_smoothing = method_spec("kd"), method_spec("label_smoothing")
    assert replace(kd, grid={"distill.learning_rate": [0.01, 0.1], "distill.temp": [4, 10]}).grid
    for spec, unread in ((kd, "distill.dkd.beta"), (kd, "distill.kd.no_such_field"), (label_smoothing, "distill.temp")):
        with pytest.raises(ValueError, match=f"its grid key '{unread}' is a param it does not read"):
            replace(spec, grid={unread: [1, 2]})
