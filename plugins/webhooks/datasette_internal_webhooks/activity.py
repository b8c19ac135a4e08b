"""How busy Datasette is with HTTP requests, so that webhook work can yield to them.

Enqueue writes and deliveries are background work: while requests are being answered they wait
until Datasette has been idle for QUIET_PERIOD, but never longer than MAX_YIELD, and then go as
one batch — one write, one burst of deliveries — instead of competing with every request for the
event loop and the CPU.
"""

import time
import weakref

QUIET_PERIOD = 0.005
MAX_YIELD = 0.1

_activities = weakref.WeakKeyDictionary()


class Activity:
    def __init__(self):
        self.in_flight = 0
        self.last_seen = 0.0  # time.monotonic() when a request last ended

    def quiet_for(self):
        return 0.0 if self.in_flight else time.monotonic() - self.last_seen

    def yield_time(self, waiting_since):
        """Seconds work queued at ``waiting_since`` should still wait; 0: do it now."""
        waited = time.monotonic() - waiting_since
        quiet = self.quiet_for()
        if quiet >= QUIET_PERIOD or waited >= MAX_YIELD:
            return 0
        return min(QUIET_PERIOD - quiet, MAX_YIELD - waited)


def activity_of(datasette):
    return _activities.setdefault(datasette, Activity())


def count_requests(datasette, app):
    """ASGI middleware keeping ``activity_of(datasette)`` up to date."""
    activity = activity_of(datasette)

    async def counted(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        activity.in_flight += 1
        try:
            await app(scope, receive, send)
        finally:
            activity.in_flight -= 1
            activity.last_seen = time.monotonic()

    return counted
