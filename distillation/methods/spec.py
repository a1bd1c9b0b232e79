"""What a distillation method declares about itself, readable without TensorFlow.

Each method module defines ``METHOD = MethodSpec(...)``: its name, its params (a :class:`MethodParams`
model: types, defaults and ranges of its section ``distill.<name>``), the shared knobs and
teacher outputs it reads, whether it is a control, its default comparison grid, and a function
that builds its Keras trainer on first use. The registry (:mod:`distillation.methods`), the
params validation and the comparison read these declarations, so nothing else lists methods.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

SHARED_PARAMS = ("temp", "lambda")  # distill.temp, distill.lambda: one knob, one meaning for every method
# Each one's field in a method's settings (validated in the distill section: distillation.config.params).
SHARED_FIELDS = {"temp": ("temp", (float, ...)), "lambda": ("lambda_", (float, Field(alias="lambda")))}
# A method's knobs added after runs were recorded (distillation.training.mixup): switched off, a run
# is the run of before they existed, so neither its setting's label nor its identity holds them.
LATER_KNOBS = ("mixup",)
TEACHER_OUTPUT_KINDS = ("logits", "hidden")


class MethodParams(BaseModel):
    """Base of a method's params: every field is a key of its section, with its type, default and range."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: Any, info) -> Any:
        # pydantic reads true as 1; a switch given for a number is a mistake worth naming.
        annotation = cls.model_fields[info.field_name].annotation
        if isinstance(value, bool) and annotation in (int, float, "int", "float"):
            raise ValueError("must be a number, not true or false")
        return value

    def label(self) -> str:
        """These params as one stable string, e.g. ``lambda=0.5, t2_scale=False, temp=10`` (knobs of
        :data:`LATER_KNOBS` switched off left out)."""
        shown = {key: value for key, value in self.model_dump(by_alias=True).items() if key not in LATER_KNOBS or value}
        return ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in sorted(shown.items()))


@dataclass(frozen=True)
class MethodSpec:
    """One distillation method, as its module declares it."""

    name: str
    params: type[MethodParams]
    # Builds the ``StudentTrainer`` subclass; called on first use, so that reading the declaration
    # (params validation, the comparison, reports) never imports Keras.
    trainer: Callable[[], type]
    shared_params: tuple[str, ...] = ()  # of SHARED_PARAMS
    teacher_outputs: tuple[str, ...] = ()  # of TEACHER_OUTPUT_KINDS: the stored outputs it trains on
    control: bool = False  # no real teacher's knowledge in it, only regularisation or augmentation
    grid: Mapping[str, list] = field(default_factory=dict)  # default comparison grid: dotted key → values
    # The stored teacher outputs (kind → split → array) as the method trains on them, given its
    # settings; called once before training (FitNets reduces its hint). None: as stored.
    prepare_teacher_outputs: Callable[[dict, MethodParams], dict] | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"method name {self.name!r} must be a Python identifier (it names a params section)")
        unknown = [key for key in self.shared_params if key not in SHARED_PARAMS]
        unknown += [kind for kind in self.teacher_outputs if kind not in TEACHER_OUTPUT_KINDS]
        if unknown:
            raise ValueError(f"method {self.name!r}: {unknown[0]!r} is none of {', '.join(SHARED_PARAMS + TEACHER_OUTPUT_KINDS)}")
        own = {f"distill.{self.name}.{key}" for key in self.params.model_fields}
        # Training knobs (distill.learning_rate, distill.epochs, …) every method reads; a shared
        # knob it does not declare, or a key in a method's section other than its own, it never reads.
        unread = {f"distill.{key}" for key in SHARED_PARAMS if key not in self.shared_params}
        for key in self.grid:
            in_a_section = key.startswith("distill.") and key.count(".") >= 2
            if key in unread or (in_a_section and key not in own):
                raise ValueError(f"method {self.name!r}: its grid key {key!r} is a param it does not read")

    @cached_property
    def settings_model(self) -> type[MethodParams]:
        """What the running method reads: its own params and the shared knobs it declares."""
        shared = dict(SHARED_FIELDS[key] for key in self.shared_params)
        return create_model(f"{self.params.__name__}Settings", __base__=self.params, **shared)

    def settings_from(self, values: Mapping[str, Any]) -> MethodParams:
        """The method's settings from ``values`` by key (``temp``, ``lambda``, its own params); keys it does not read are left out."""
        keys = {field.alias or name for name, field in self.settings_model.model_fields.items()}
        return self.settings_model.model_validate({key: value for key, value in values.items() if key in keys})

    def teacher_outputs_for_training(self, teacher: dict[str, dict], settings: MethodParams) -> dict[str, dict]:
        """``teacher`` as this method trains on it (see ``prepare_teacher_outputs``)."""
        return teacher if self.prepare_teacher_outputs is None else self.prepare_teacher_outputs(teacher, settings)

    def check_value(self, key: str, value: Any) -> Any:
        """``value`` of the own param ``key`` (``distill.<name>.<field>``) converted, or a one-line error."""
        field_name = key.rsplit(".", 1)[1]
        try:
            return getattr(self.params.model_validate({field_name: value}), field_name)
        except ValidationError as error:
            message = error.errors()[0]["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
            raise ValueError(f"{key} {message}, got {value!r}") from None
