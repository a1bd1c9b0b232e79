"""FitNets' hints in their leading principal directions: fitted on the train split's, shared by every user.

The ``view_targets`` stage stores the views' hints in these directions and FitNets projects the
images' hints onto the same stored ones, so the two always live in one space.
"""
from __future__ import annotations

import numpy as np

_CHUNK = 8192  # rows at a time: the covariance is accumulated without a float64 copy of the split


def hint_components_error(components: int, width: int) -> ValueError:
    return ValueError(f"params.yaml: distill.fitnets.hint_components must be 0 (the full hint) or 1..{width} "
                      f"(the teacher's hidden units), got {components}")


def check_hint_components(components: int, width: int) -> None:
    """A one-line ``ValueError`` unless ``components`` is 0 (the full hint) or 1..``width``."""
    if not 0 <= components <= width:
        raise hint_components_error(components, width)


def principal_hint_basis(train: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The train hints' mean, their ``components`` leading principal directions, and the variance kept.

    The directions are scaled by √(k/D) for a D-unit hint, so the mean squared error of the
    coordinates equals the full mean squared error's part within those directions.
    """
    width = train.shape[1]
    if not 0 < components <= width:  # 0, the full hint, needs no basis
        raise hint_components_error(components, width)
    mean = train.mean(axis=0, dtype=np.float64).astype(np.float32)
    covariance = np.zeros((width, width))
    for start in range(0, len(train), _CHUNK):
        chunk = train[start:start + _CHUNK].astype(np.float32) - mean
        covariance += chunk.T @ chunk
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending order
    leading = np.argsort(eigenvalues)[::-1][:components]
    basis = (eigenvectors[:, leading] * np.sqrt(components / width)).astype(np.float32)
    kept = float(eigenvalues[leading].sum() / max(eigenvalues.sum(), np.finfo(float).tiny))
    return mean, basis, kept


def project_hints(values: np.ndarray, mean: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Hints (N, D) → their float32 coordinates (N, k) in ``basis``, a chunk of rows at a time."""
    chunks = [(values[start:start + _CHUNK].astype(np.float32) - mean) @ basis for start in range(0, len(values), _CHUNK)]
    return np.concatenate(chunks) if chunks else np.zeros((0, basis.shape[1]), np.float32)


