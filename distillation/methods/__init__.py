"""The distillation methods, chosen by name (``distill.method``) from one registry.

Every module of this package but ``base`` and ``spec`` is one method and declares it as
``METHOD`` (:class:`~distillation.methods.spec.MethodSpec`): name, params schema, the shared knobs
and teacher outputs it reads, whether it is a control, its comparison grid, and its Keras
trainer (a :class:`~distillation.methods.base.StudentTrainer` subclass, built on first use). The
registry finds the modules itself: adding a method is its module plus its section
``distill.<name>`` in ``params.yaml`` (docs/methods.md, "Adding a method").

Importing this package never imports Keras; :func:`method_trainer` does. The params validation
imports it in every stage, but the method modules are found at run time, so in ``dvc.yaml`` only
``train_student``, which runs them, depends on them.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
from distillation.methods.spec import MethodParams, MethodSpec

_NOT_METHODS = {"base", "spec"}


def _discover() -> dict[str, MethodSpec]:
    methods: dict[str, MethodSpec] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name in _NOT_METHODS or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        method = getattr(module, "METHOD", None)
        if not isinstance(method, MethodSpec):
            raise ValueError(f"distillation/methods/{module_info.name}.py: defines no METHOD = MethodSpec(...)")
        if method.name != module_info.name:
            raise ValueError(f"distillation/methods/{module_info.name}.py: METHOD.name is {method.name!r}, "
                             f"not the module's name")
        methods[method.name] = method
    # The distillation methods first, then the controls; by name within each.
    return dict(sorted(methods.items(), key=lambda item: (item[1].control, item[0])))


METHODS: dict[str, MethodSpec] = _discover()
# Controls: no real teacher's knowledge in them, only regularisation of the labels (or, for
# hard_labels with views, the augmentation alone).
CONTROLS = tuple(name for name, method in METHODS.items() if method.control)

__all__ = ["CONTROLS", "METHODS", "MethodParams", "MethodSpec", "method_spec", "method_trainer"]


def method_spec(name: str) -> MethodSpec:
    """The declaration of the method ``name``; an unknown name is one line listing the methods."""
    if name not in METHODS:
        raise ValueError(f"params.yaml: distill.method must be one of {', '.join(METHODS)}, got {name!r}")
    return METHODS[name]


@functools.cache
def method_trainer(name: str) -> type:
    """The Keras trainer class of the method ``name`` (imports Keras)."""
    return method_spec(name).trainer()
