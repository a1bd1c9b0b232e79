"""Keras started without the optional extras that no stage uses: about a second off each stage that runs a model.

When they are installed, Keras imports at start-up scikit-learn (for its scikit-learn wrappers),
pandas (to slice data frames handed to ``fit``) and matplotlib (for its image galleries): about
a second on two cores, a quarter of a stage's start-up (``python -X importtime -m stages.evaluate``).
No stage uses any of them through Keras; the lock has them for other reasons (the own-data tests'
digits, DVC's plots, the project's own pictures). :func:`install` makes the first ``import keras``
run with those imports failing as if the extras were absent — Keras falls back for each — and
then lets them import as usual, so a stage that draws a picture still can.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

OPTIONAL_EXTRAS = ("sklearn", "pandas", "matplotlib")


@contextlib.contextmanager
def modules_hidden(names: tuple[str, ...]) -> Iterator[None]:
    """Inside, importing any of ``names`` not yet imported raises ``ImportError``; outside, nothing changed."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # the import system's own "not importable" mark
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


class _ExtrasHiddenLoader(importlib.abc.Loader):
    """Keras's own loader, executing the package with :data:`OPTIONAL_EXTRAS` hidden."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with modules_hidden(OPTIONAL_EXTRAS):
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # resources and the like: the real loader's
        return getattr(self._loader, name)


class _KerasFinder(importlib.abc.MetaPathFinder):
    """Finds ``keras`` where the import system would, once, and hands it :class:`_ExtrasHiddenLoader`."""

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _ExtrasHiddenLoader(spec.loader)
        return spec


def install() -> None:
    """Make the process's first ``import keras`` skip the optional extras; nothing if Keras is already imported."""
    if "keras" not in sys.modules and not any(isinstance(finder, _KerasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasFinder())
