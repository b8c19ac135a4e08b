"""How busy Datasette is with HTTP requests, so that webhook work can yield to them.

Enqueue writes and deliveries are background work. A request that comes after a pause (nothing
in flight for QUIET_PERIOD) is taken as a lone one: its work goes at once, even while it is being
answered, so a write's delivery can reach the receiver before the write's own response. While
requests come back to back (or overlap), the work waits until Datasette has been idle for
QUIET_PERIOD, but never longer than MAX_YIELD, and then goes as one batch — one write, one burst
of deliveries — instead of competing with every request for the event loop and the CPU.
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
        self.after_pause = True  # the latest request came when none had been in flight for a while

    def request_started(self):
        self.after_pause = self.in_flight == 0 and time.monotonic() - self.last_seen >= QUIET_PERIOD
        self.in_flight += 1

    def request_ended(self):
        self.in_flight -= 1
        self.last_seen = time.monotonic()

    def quiet_for(self):
        return 0.0 if self.in_flight else time.monotonic() - self.last_seen

    def lone(self):
        """The request being answered came after a pause, and none overlaps it."""
        return self.after_pause and self.in_flight <= 1

    def yield_time(self, waiting_since):
        """Seconds work queued at ``waiting_since`` should still wait; 0: do it now."""
        if self.lone():
            return 0
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
        activity.request_started()
        try:
            await app(scope, receive, send)
        finally:
            activity.request_ended()

    return counted
