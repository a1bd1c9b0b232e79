"""What every stage's and script's ``main()`` shares: input errors as one line and a non-zero exit."""
from __future__ import annotations

import sys
from collections.abc import Callable


def run_stage(stage_main: Callable[[], None]) -> None:
    """Run a stage; turn input errors (``ValueError``, missing files) into one line on stderr and exit 1."""
    try:
        stage_main()
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
