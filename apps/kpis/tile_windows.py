"""Which of a KPI's windows its tile shows, from its points as plain dicts (oldest first, each with
``complete``, ``value`` and ``n``). No Django: the business dashboard calls it, tests call it alone.

A tile's number and colour come from the latest *complete* window that has a value: a window still
in progress (a few minutes after midnight UTC it holds a few minutes of data) is never the tile's
number; it is shown beside it, labelled partial. A complete window without a value (no outcome has
arrived yet, nothing to divide by) does not blank the tile either: the tile keeps the latest value
and says that the newer window has none, and why."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TileWindows:
    latest: dict | None  # the latest complete window with a value: the tile's number and colour
    unvalued: dict | None  # a complete window newer than ``latest`` that has no value, if any
    previous: dict | None  # the complete window with a value before ``latest``: the trend
    partial: dict | None  # the window in progress, when it has predictions
    spark: list[dict]  # the last complete windows, for the sparkline


def tile_windows(points: list[dict], *, spark_points: int) -> TileWindows:
    complete = [p for p in points if p["complete"]]
    valued = [p for p in complete if p["value"] is not None]
    latest = valued[-1] if valued else None
    newest = complete[-1] if complete else None
    unvalued = newest if newest is not None and newest is not latest and newest["value"] is None else None
    partial = next((p for p in reversed(points) if not p["complete"] and p["n"]), None)
    return TileWindows(
        latest=latest,
        unvalued=unvalued,
        previous=valued[-2] if len(valued) > 1 else None,
        partial=partial,
        spark=complete[-spark_points:],
    )
