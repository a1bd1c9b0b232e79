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

BLOCK = re.compile(r"(<!-- rendered by `make report`: (?P<kind>[\w-]+) (?P<name>[^\n]+?) -->\n)(?P<body>.*?)(<!-- end rendered -->)", re.S)
OPENER = re.compile(r"^<!-- rendered by `make report`: [\w-]+ \S[^\n]*? -->$")
END = "<!-- end rendered -->"
# Anything that looks like a marker, however misspelt: each must be a well-formed one, in pairs.
MARKER_LIKE = re.compile(r"<!--\s*(?P<end>end\s*)?rendered", re.I)


def check_markers(text: str, where: str = "") -> None:
    """A ``ValueError`` naming the line of the first marker that is malformed, unclosed, nested or
    stray: such a block would otherwise be skipped, its stale text left in place."""
    open_line = 0
    for number, line in enumerate(text.splitlines(), 1):
        marker = MARKER_LIKE.search(line)
        if marker is None:
            continue
        if marker["end"]:
            if line != END:
                raise ValueError(f"{where}:{number}: a malformed end marker (write `{END}` alone on its line)")
            if not open_line:
                raise ValueError(f"{where}:{number}: an end marker with no rendered block open")
            open_line = 0
        elif not OPENER.match(line):
            raise ValueError(f"{where}:{number}: a malformed rendered-block marker (write "
                             "`<!-- rendered by `make report`: KIND NAME -->` alone on its line)")
        elif open_line:
            raise ValueError(f"{where}:{open_line}: a rendered block not closed before the next one at line {number}")
        else:
            open_line = number
    if open_line:
        raise ValueError(f"{where}:{open_line}: a rendered block with no `{END}`")


def render_blocks(text: str, renderers: dict[str, Callable[[str], str]], where: str = "") -> str:
    """``text`` with every marked block rendered anew; an unknown kind or name, or a malformed
    marker (:func:`check_markers`), is a ``ValueError``."""
    check_markers(text, where)

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
        if not MARKER_LIKE.search(text):
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
