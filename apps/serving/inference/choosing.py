"""Which arm of a route answers a request: the primary, unless a canary's share picks it."""

import random
import zlib

from apps.serving.inference.routes import Arm, Route

_BUCKETS = 10_000  # sticky keys map to 0.01 % steps of traffic


def choose_arm(route: Route, first_record: dict | None, rng: random.Random) -> Arm | None:
    """The arm that answers; None when the route has no primary. One arm answers the whole request,
    so with a sticky key it is the first record's key that decides."""
    primary = route.primary
    if primary is None:
        return None
    canaries = route.canaries
    if not canaries:
        return primary
    point = _point(route, first_record, rng)
    threshold = 0.0
    for canary in canaries:  # canaries share the range [0, 100) one after another
        threshold += max(canary.percent, 0.0)
        if point < threshold:
            return canary
    return primary


def _point(route: Route, record: dict | None, rng: random.Random) -> float:
    """A point in [0, 100): stable for a sticky key, random otherwise."""
    key = route.sticky_key
    if key and isinstance(record, dict) and record.get(key) is not None:
        # The endpoint is hashed too, so one customer is not in every endpoint's canary at once.
        digest = zlib.crc32(f"{route.endpoint}\0{record[key]}".encode())
        return (digest % _BUCKETS) * 100.0 / _BUCKETS
    return rng.random() * 100.0
