"""A compact two-column table for terminals: labels left-aligned, values aligned after them."""

from __future__ import annotations

from collections.abc import Iterable


def format_table(rows: Iterable[tuple[str, str]], title: str | None = None) -> str:
    """Render ``(label, value)`` rows; a row whose value is empty is printed as a section heading."""
    materialised = list(rows)
    width = max((len(label) for label, value in materialised if value), default=0)
    lines = [title] if title else []
    for label, value in materialised:
        lines.append(f"{label:<{width}}  {value}" if value else label)
    return "\n".join(lines)
