"""Write outputs under a temporary name and rename them into place when complete.

A stage killed half-way then leaves at most a hidden ``.*.tmp*`` file behind, never a
truncated output that DVC or a later stage could take for a good one.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` on success.

    The temporary name keeps the target's suffix, because writers such as
    ``np.savez`` and ``keras.Model.save`` insist on a particular extension.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.tmp-{secrets.token_hex(4)}{target.suffix}")
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(target: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented, key-sorted JSON, atomically."""
    with atomic_output(target) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
