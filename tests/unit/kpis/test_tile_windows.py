"""Which windows a KPI tile shows (apps/kpis/tile_windows.py), without a database."""

from apps.kpis.tile_windows import tile_windows


def point(day: int, value, *, complete=True, n=100, status="ok") -> dict:
    return {"day": day, "value": value, "complete": complete, "n": n, "status": status}


def test_the_window_in_progress_is_partial_never_the_tiles_number():
    points = [point(1, 0.80), point(2, 0.68, status="out_of_band"), point(3, 0.785, complete=False, n=40)]
    chosen = tile_windows(points, spark_points=14)
    assert chosen.latest["day"] == 2 and chosen.latest["status"] == "out_of_band"
    assert chosen.previous["day"] == 1
    assert chosen.partial["day"] == 3
    assert chosen.unvalued is None
    assert [p["day"] for p in chosen.spark] == [1, 2]


def test_a_newer_complete_window_without_a_value_keeps_the_earlier_value():
    points = [point(1, 0.12), point(2, None, status="insufficient"), point(3, None, complete=False, n=5)]
    chosen = tile_windows(points, spark_points=14)
    assert chosen.latest["day"] == 1
    assert chosen.unvalued["day"] == 2
    assert chosen.previous is None
    assert chosen.partial["day"] == 3


def test_nothing_complete_yet_and_an_empty_window_in_progress():
    chosen = tile_windows([point(1, None, complete=False, n=0)], spark_points=14)
    assert chosen.latest is None and chosen.unvalued is None and chosen.partial is None
    assert chosen.spark == []


def test_the_sparkline_keeps_the_last_complete_windows():
    points = [point(d, d / 100) for d in range(30)]
    assert [p["day"] for p in tile_windows(points, spark_points=14).spark] == list(range(16, 30))
