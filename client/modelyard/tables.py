"""Plain, aligned text tables for the CLI (no colours, so output pipes cleanly into grep/awk)."""

from collections.abc import Sequence


def cell(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def render(rows: Sequence[dict], columns: Sequence[tuple[str, str]], empty: str = "(none)") -> str:
    """``columns`` are (header, key) pairs. Numbers are right-aligned, everything else left."""
    if not rows:
        return empty
    table = [[cell(row.get(key)) for _, key in columns] for row in rows]
    numeric = [all(isinstance(row.get(key), int | float) for row in rows) for _, key in columns]
    widths = [max(len(header), *(len(r[i]) for r in table)) for i, (header, _) in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line([h for h, _ in columns]), *(line(r) for r in table)])


def render_pairs(pairs: Sequence[tuple[str, object]]) -> str:
    """``label  value`` lines, labels padded to one width."""
    width = max(len(label) for label, _ in pairs)
    return "\n".join(f"{label.ljust(width)}  {cell(value)}" for label, value in pairs)
