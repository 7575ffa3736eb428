"""Times carried in the records that cross processes (prediction log, SLA samples, outcomes)."""

from datetime import UTC, datetime


def record_time(value) -> datetime:
    """A record's time: an ISO 8601 string (naive means UTC) or seconds since the epoch."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
