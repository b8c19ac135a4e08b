"""The one source of time for core services, so tests can move it."""

import datetime
import time


def now():
    return time.time()


def iso(timestamp=None):
    """UTC ISO-8601 text for a unix timestamp (default: now)."""
    moment = now() if timestamp is None else timestamp
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).isoformat(
        timespec="milliseconds"
    )
