"""What every stage's ``main()`` shares: one-line errors and a non-zero exit."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable


def run_dvc(*arguments: str, capture: bool = True) -> str:
    """Run DVC with this interpreter (its output shown live unless ``capture``); return stdout.

    A failure is one ``ValueError`` line naming the command and, when captured, DVC's last word.
    """
    result = subprocess.run([sys.executable, "-m", "dvc", *arguments], capture_output=capture, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-1:] if capture else []
        raise ValueError(f"`dvc {' '.join(arguments[:3])} …` failed (exit {result.returncode}){': ' + detail[0] if detail else ''}")
    return result.stdout if capture else ""


def run_stage(stage_main: Callable[[], None]) -> None:
    """Run a stage; turn input errors (``ValueError``, missing files) into one line on stderr and exit 1."""
    try:
        stage_main()
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
