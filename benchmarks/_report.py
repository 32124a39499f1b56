"""Write one section of ``docs/benchmarks.md`` and leave the others as they are."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, title: str, section: str) -> None:
    """Replace the section that starts with the heading ``title`` (or append it)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(title)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(title))
        rest = text[end + 1 :] if end >= 0 else ""
        text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + rest if rest else "")
    path.write_text(text, encoding="utf-8")
