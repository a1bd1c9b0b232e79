"""params.yaml: the shipped file is valid; bad values and typos are named."""
from __future__ import annotations

import copy

import pytest
import yaml

from conftest import PROJECT_ROOT
from distillation.params import ParamsError, load_params, validate

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
    assert params["distill"]["kd"]["temp"] > 0 and params["data"]["source"] == "synthetic"


def test_values_given_as_strings_are_converted():
    params = validate(with_value("distill.kd.temp", "10"))
    assert params["distill"]["kd"]["temp"] == 10.0
    assert validate(with_value("distill.kd.t2_scale", "true"))["distill"]["kd"]["t2_scale"] is True
    assert validate(with_value("teacher.epochs", "3"))["teacher"]["epochs"] == 3


@pytest.mark.parametrize(
    "key, value",
    [
        ("distill.kd.temp", 0),
        ("distill.dkd.beta", -1),
        ("distill.dml.peers", 1),
        ("distill.label_smoothing.epsilon", 1.0),
        ("distill.teacher_free.correct_probability", 1.0),
        ("distill.method", "fitnet"),
        ("distill.kd.lambda", -0.1),
        ("data.val_fraction", 0.6),
        ("data.val_fraction", 0),
        ("teacher.epochs", 2.5),
        ("baseline.batch_size", 0),
        ("baseline.hidden_units", "many"),
        ("distill.learning_rate", -1e-3),
        ("distill.kd.t2_scale", "maybe"),
    ],
)
def test_bad_values_name_the_key(key, value):
    with pytest.raises(ParamsError, match=key.replace(".", r"\.")):
        validate(with_value(key, value))


def test_unknown_key_suggests_the_nearest():
    params = copy.deepcopy(SHIPPED)
    params["distill"]["kd"]["tmp"] = 5
    with pytest.raises(ParamsError, match=r"unknown key 'distill\.kd\.tmp'.*'distill\.kd\.temp'"):
        validate(params)


def test_a_key_that_moved_into_the_kd_section_says_where_it_went():
    params = copy.deepcopy(SHIPPED)
    params["distill"]["temp"] = 10
    with pytest.raises(ParamsError, match=r"'distill\.temp' is now 'distill\.kd\.temp'"):
        validate(params)


def test_every_method_in_the_registry_has_a_params_section_and_no_more():
    from distillation.methods import METHODS
    from distillation.params import METHOD_NAMES

    assert tuple(METHODS) == METHOD_NAMES
    assert set(SHIPPED["distill"]) >= set(METHODS)
