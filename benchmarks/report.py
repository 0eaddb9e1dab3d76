"""Writes a benchmark's latest results into its own section of docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Each section is written by the command it quotes; run that command to refresh it.
Figures are measured on the machine named in the section, never typed in.
"""


def write_section(key: str, title: str, body: str) -> None:
    text = DOC.read_text() if DOC.exists() else HEADER
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    section = f"{start}\n## {title}\n\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
