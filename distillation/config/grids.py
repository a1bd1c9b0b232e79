"""A grid of params, ``{dotted.key: value or [values]}``, as its points: one formula for every grid
(the comparison's fixed params, method grids and baseline grid; the sweeps' grids)."""
from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any


def grid_product(grid: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every combination of the grid's values as ``{dotted.key: value}``, in the grid's order; a
    single value counts as a list of one, and an empty grid is the one empty point."""
    grid = grid or {}
    values = [grid[key] if isinstance(grid[key], list) else [grid[key]] for key in grid]
    return [dict(zip(grid, combination)) for combination in itertools.product(*values)]
