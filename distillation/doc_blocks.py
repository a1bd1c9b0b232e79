"""Figures in the README and docs that cannot go stale: blocks rendered from the records.

A Markdown file marks a block as

    <!-- rendered by `make report`: KIND NAME -->
    …whatever the renderer wrote last…
    <!-- end rendered -->

and :func:`render_blocks` replaces what is between the two lines by ``renderers[KIND](NAME)``.
``make report`` rewrites every such file; a test renders them again and compares, so a committed
figure is always the committed records' figure.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from distillation.atomic import atomic_output

BLOCK = re.compile(r"(<!-- rendered by `make report`: (?P<kind>[\w-]+) (?P<name>[^\n]*?) -->\n)(?P<body>.*?)(<!-- end rendered -->)", re.S)


def render_blocks(text: str, renderers: dict[str, Callable[[str], str]], where: str = "") -> str:
    """``text`` with every marked block rendered anew; an unknown kind or name is a ``ValueError``."""
    def replace(match: re.Match) -> str:
        kind, name = match["kind"], match["name"]
        if kind not in renderers:
            raise ValueError(f"{where}: rendered block '{kind} {name}': no such kind ({', '.join(sorted(renderers))})")
        body = renderers[kind](name).rstrip("\n") + "\n"
        return match.group(1) + body + match.group(5)
    return BLOCK.sub(replace, text)


def render_files(paths: Iterable[Path], renderers: dict[str, Callable[[str], str]]) -> list[Path]:
    """Render the blocks of each file that has any; return the files whose text changed. A file whose
    blocks cannot be rendered (a record it names is gone) is left as it is, with a warning line."""
    changed = []
    for path in paths:
        text = path.read_text()
        if not BLOCK.search(text):
            continue
        try:
            rendered = render_blocks(text, renderers, str(path))
        except ValueError as error:
            print(f"warning: {error}; {path} left as it was", file=sys.stderr)
            continue
        if rendered != text:
            with atomic_output(path) as temporary:
                temporary.write_text(rendered)
            changed.append(path)
    return changed


def documents(root: Path) -> list[Path]:
    """The README and every page of ``docs/``."""
    return [path for path in (root / "README.md", *sorted((root / "docs").glob("*.md"))) if path.is_file()]
