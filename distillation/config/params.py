"""``params.yaml`` read and validated once, at a stage's edge, into one typed :class:`Params`.

Every key is a field of a section model; an unknown key (a typo such as ``distill.tmp``) is
rejected with the nearest known key suggested, a key of an earlier version with its new name.
Values that ``dvc exp run -S key=value`` passes as strings are converted. Errors are one line
naming the key: ``params.yaml: <key> <what is wrong>, got <value>``. The ``distill`` section is
assembled from the registry of methods: each method's own section is its declared model
(:mod:`distillation.methods.spec`), and :attr:`DistillParams.settings` is what the running method
reads, merged once.
"""
from __future__ import annotations

import difflib
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, TypeAdapter, ValidationError, create_model, model_validator
from pydantic_core import PydanticCustomError

# The methods' declarations (no Keras). The registry finds the method modules at run time, so in
# dvc.yaml only train_student, which runs them, depends on them.
from distillation.methods import METHODS
from distillation.methods.spec import MethodParams, MethodSpec

PARAMS_FILE = Path("params.yaml")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")  # distillation.training.precision says what each does


class ParamsError(ValueError):
    """An invalid or unknown parameter; the message names the key."""


def _number(kind: type, low: float | None = None, high: float | None = None, low_open: bool = False, high_open: bool = False) -> Any:
    """A number field converted from what YAML or ``-S`` gives, within [low, high] (open where asked)."""
    def convert(value: Any) -> Any:
        kind_name = "an integer" if kind is int else "a number"
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            converted = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be {kind_name}") from None
        if kind is int and float(value) != converted:
            raise ValueError("must be an integer")
        if low is not None and (converted < low or (low_open and converted == low)):
            raise ValueError(f"must be {'>' if low_open else '>='} {low}")
        if high is not None and (converted > high or (high_open and converted == high)):
            raise ValueError(f"must be {'<' if high_open else '<='} {high}")
        return converted
    return Annotated[kind, PlainValidator(convert)]


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("must be true or false")


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _sha256(value: Any) -> str:
    text = str(value).lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError("must be 64 hexadecimal digits")
    return text


def _choice(*allowed: str) -> Any:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value
    return Annotated[Literal[allowed], PlainValidator(check)]


Boolean = Annotated[bool, PlainValidator(_boolean)]
Text = Annotated[str, PlainValidator(_text)]
Sha256 = Annotated[str, PlainValidator(_sha256)]
Seed = _number(int, 0)
PositiveInt = _number(int, 1)
PositiveFloat = _number(float, 0, low_open=True)
NonNegativeFloat = _number(float, 0)
Fraction = _number(float, 0, 1, high_open=True)  # dropout rates, [0, 1)


class Section(BaseModel):
    """A section of ``params.yaml``: its keys are the fields, no others."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def changed(self, **changes: Any) -> Section:
        """This section with ``changes`` laid over it (nested sections merged key by key), validated."""
        return type(self).model_validate(merge(self.model_dump(by_alias=True), changes))


def merge(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` laid over it, nested sections merged key by key."""
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return merged


class SyntheticParams(Section):
    train_per_class: PositiveInt
    test_per_class: PositiveInt


class EmnistParams(Section):
    path: Text
    url: Text
    member: Text
    sha256: Sha256
    bytes: PositiveInt


class EmnistByclassParams(Section):
    path: Text
    url: Text
    member: Text
    letters_sha256: Sha256


def _image_size(value: Any) -> tuple[int, int] | None:
    """None (the images' own size), a side ≥ 1 for square images, or ``[height, width]``."""
    if isinstance(value, str):  # `-S data.image_size=32` or `=[32,24]` gives text; DVC's table "None" for null
        value = None if value == "None" else yaml.safe_load(value)
    if value is None:
        return None
    sides = list(value) if isinstance(value, (list, tuple)) else [value, value]
    # DVC's table gives 28.0 for 28: a whole number counts as the integer it is.
    sides = [int(side) if isinstance(side, float) and side.is_integer() else side for side in sides]
    if len(sides) != 2 or any(isinstance(side, bool) or not isinstance(side, int) or side < 1 for side in sides):
        raise ValueError("must be null (the images' own size), a side ≥ 1 or [height, width]")
    return sides[0], sides[1]


def _channels(value: Any) -> int | None:
    if isinstance(value, str):
        value = None if value == "None" else yaml.safe_load(value)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or value not in (1, 3):
        raise ValueError("must be null (the images' own), 1 (grey) or 3 (RGB)")
    return value


def _optional_path(value: Any) -> str | None:
    if value is None or value in ("null", "None", ""):
        return None
    return _text(value)


class DataParams(Section):
    source: Text
    # What your own images become (a folder or an .npz as data.source): EMNIST sources are 28 × 28 grey.
    image_size: Annotated[tuple[int, int] | None, PlainValidator(_image_size)]
    channels: Annotated[int | None, PlainValidator(_channels)]
    val_fraction: _number(float, 0, 0.5, low_open=True)
    split_replicate: Seed
    synthetic: SyntheticParams
    emnist: EmnistParams
    emnist_byclass: EmnistByclassParams


class AugmentParams(Section):
    """Stored views of the training images (distillation/data/views.py). The bounds keep a letter
    itself: a quarter turn, a strong shear or a large elastic displacement makes another letter of it."""

    views: _number(int, 0, 64)
    rotation_degrees: _number(float, 0, 30)
    scale: _number(float, 0, 0.3)
    shear: _number(float, 0, 0.5)
    shift_pixels: _number(float, 0, 6)
    elastic_alpha: _number(float, 0, 4)
    elastic_sigma: PositiveFloat


class TrainingRecipe(Section):
    """How a model trains: the keys the teacher's, the baseline's and the student's sections share."""

    optimizer: _choice("adam", "adadelta")
    early_stopping: Boolean
    epochs: PositiveInt
    batch_size: PositiveInt
    learning_rate: PositiveFloat
    patience: PositiveInt
    dropout: Fraction
    # plateau: halve the rate when val stalls (the earlier recipe); cosine: warm-up, then one cosine cycle over `epochs`
    schedule: _choice("plateau", "cosine")
    warmup_epochs: NonNegativeFloat
    steps_per_execution: PositiveInt
    # at least this many optimizer steps: epochs rise on small data (distillation.training.fit.budgeted)
    min_steps: _number(int, 0)
    precision: _choice(*PRECISIONS)


class TeacherParams(TrainingRecipe):
    # A trained Keras teacher of your own (.keras), used instead of training the original's CNN
    # (stages.train_teacher); null: train it here. The recipe below is then unread.
    model: Annotated[str | None, PlainValidator(_optional_path)]
    # The layer FitNets reads the teacher's hints from: the original CNN's is named `hidden`.
    hidden_layer: Text
    replicate: Seed
    ensemble: PositiveInt  # N teachers; students learn from their mean logits (distillation.targets.ensemble)


def _widths(value: Any) -> int | tuple[int, ...]:
    """One hidden layer's units (an integer ≥ 1), or a non-empty list of them, one per layer."""
    if isinstance(value, str):  # `-S baseline.hidden_units=512` gives text
        value = yaml.safe_load(value)
    widths = list(value) if isinstance(value, (list, tuple)) else [value]
    # DVC's table gives 512.0 for 512: a whole number counts as the integer it is.
    widths = [int(width) if isinstance(width, float) and width.is_integer() else width for width in widths]
    if not widths or any(isinstance(width, bool) or not isinstance(width, int) or width < 1 for width in widths):
        raise ValueError("must be an integer ≥ 1 or a list of them (one per hidden layer)")
    return widths[0] if not isinstance(value, (list, tuple)) else tuple(widths)


class BaselineParams(TrainingRecipe):
    hidden_units: Annotated[int | tuple[int, ...], PlainValidator(_widths)]  # the MLP's, for the baseline and every student


def _check_method(value: Any) -> str:
    if value not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)}")
    return value


class DistillBase(TrainingRecipe):
    """The ``distill`` section's own keys; one field per method's section is added from the registry."""

    method: Annotated[str, PlainValidator(_check_method)]
    # Shared by the methods that declare them (MethodSpec.shared_params): one knob, one meaning.
    temp: PositiveFloat
    lambda_: NonNegativeFloat = Field(alias="lambda")

    @cached_property
    def spec(self) -> MethodSpec:
        """The running method's declaration."""
        return METHODS[self.method]

    @cached_property
    def settings(self) -> MethodParams:
        """What the running method reads: the shared knobs it declares and its own section, merged once."""
        return self.spec.settings_from({"temp": self.temp, "lambda": self.lambda_, **getattr(self, self.method).model_dump()})


# One section per method (distill.<method>), its fields declared in the method's module.
DistillParams = create_model(
    "DistillParams", __base__=DistillBase, __doc__=DistillBase.__doc__,
    **{name: (spec.params, ...) for name, spec in METHODS.items()},
)
TRAINING_SECTIONS = ("teacher", "baseline", "distill")


class Params(Section):
    """The whole of ``params.yaml``."""

    seed: Seed  # data generation, the val split, weight initialisation and shuffling
    replicate: Seed  # the baseline and the student are seeded with seed + replicate
    data: DataParams
    augment: AugmentParams
    teacher: TeacherParams
    baseline: BaselineParams
    distill: DistillParams

    @model_validator(mode="after")
    def _warmup_within_the_cycle(self) -> Params:
        for section in TRAINING_SECTIONS:
            recipe: TrainingRecipe = getattr(self, section)
            if recipe.schedule == "cosine" and recipe.warmup_epochs >= recipe.epochs:
                raise PydanticCustomError("params", "{message}", {"message": (
                    f"{section}.warmup_epochs must be less than {section}.epochs ({recipe.epochs}) "
                    f"under schedule: cosine, got {recipe.warmup_epochs:g}")})
        return self

    @model_validator(mode="after")
    def _given_teacher_alone(self) -> Params:
        if self.teacher.model is not None and self.teacher.ensemble != 1:
            raise PydanticCustomError("params", "{message}", {"message": (
                f"teacher.ensemble must be 1 with teacher.model (an ensemble's members are trained here), got {self.teacher.ensemble}")})
        return self

    def flat(self) -> dict[str, Any]:
        """Every key as ``dvc exp run -S`` names it → its value."""
        return flatten(self.model_dump(by_alias=True))

    def with_overrides(self, overrides: dict[str, Any]) -> Params:
        """These params with ``{dotted.key: value}`` set, as ``dvc exp run -S`` would, validated."""
        return validate(unflatten({**self.flat(), **overrides}))

    @property
    def mlp_seed(self) -> int:
        """The baseline's and the student's seed: ``seed + replicate``."""
        return self.seed + self.replicate

    @property
    def teacher_seed(self) -> int:
        """The teacher's seed: ``seed + teacher.replicate``."""
        return self.seed + self.teacher.replicate


def dotted_keys(model: type[BaseModel] = Params, prefix: str = "") -> dict[str, Any]:
    """Every key of ``model`` as ``dvc exp run -S`` names it (``distill.kd.t2_scale``) → its field's annotation."""
    keys: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys.update(dotted_keys(field.annotation, f"{key}."))
        else:
            keys[key] = field
    return keys


KEYS = dotted_keys()
# Keys of earlier versions → their keys now: each method's temperature and λ became the shared
# distill.temp / distill.lambda, and T² scaling is KD's own.
MOVED = {
    **{f"distill.{name}.{key}": f"distill.{key}" for name, spec in METHODS.items() for key in spec.shared_params},
    "distill.t2_scale": "distill.kd.t2_scale",
}


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``: the dotted keys that ``dvc exp run -S`` takes."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`flatten`."""
    tree: dict[str, Any] = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return tree


def _first_error(error: ValidationError, source: str) -> ParamsError:
    """The first of pydantic's errors as one line naming the dotted key."""
    first = error.errors()[0]
    if first["type"] == "params":
        return ParamsError(f"{source}: {first['msg']}")
    key = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    return ParamsError(f"{source}: {key} {message}, got {first['input']!r}")


def validate(raw: Any, source: str = "params.yaml") -> Params:
    """The whole params tree checked key by key and converted into :class:`Params`."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of sections at the top level")
    flat = flatten(raw)
    for key in flat:
        if key in MOVED:
            raise ParamsError(f"{source}: '{key}' is now '{MOVED[key]}'")
        if key not in KEYS:
            nearest = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"; did you mean '{nearest[0]}'?" if nearest else ""
            raise ParamsError(f"{source}: unknown key '{key}'{hint}")
    missing = [key for key in KEYS if key not in flat]
    if missing:
        raise ParamsError(f"{source}: missing key '{missing[0]}'")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise _first_error(error, source) from None


def _adapter(field: Any) -> TypeAdapter:
    return TypeAdapter(Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation)


ADAPTERS = {key: _adapter(field) for key, field in KEYS.items()}


def convert_value(key: str, value: Any) -> Any:
    """``value`` of the dotted ``key`` as validation converts it (DVC's table holds ``5.0`` for 5,
    ``"True"`` for true); unchanged where the key is unknown or the value invalid."""
    if key not in ADAPTERS or value is None:
        return value
    try:
        return ADAPTERS[key].validate_python(value)
    except ValidationError:
        return value


def read_yaml(path: str | Path, missing_hint: str = "") -> Any:
    """The YAML content of ``path``; a missing or malformed file is one line naming it."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found{missing_hint}") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Load and validate the whole of ``params.yaml``."""
    return validate(read_yaml(path, " (run stages from the project root)"))
