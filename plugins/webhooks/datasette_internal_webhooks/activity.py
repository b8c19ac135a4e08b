"""How busy Datasette is with HTTP requests, so that webhook work can yield to them.

Enqueue writes and deliveries are background work. A request that comes after a pause (nothing
in flight for QUIET_PERIOD) is taken as a lone one: its work goes at once, even while it is being
answered, so a write's delivery can reach the receiver before the write's own response. While
requests come back to back (or overlap), the work waits until Datasette has been idle for
QUIET_PERIOD, but never longer than MAX_YIELD, and then goes as one batch — one write, one burst
of deliveries — instead of competing with every request for the event loop and the CPU.

Waiting work is woken by the requests themselves (``next_quiet``): nothing polls while requests
come back to back, where a wake-up every QUIET_PERIOD would land on the requests it yields to.
"""

import asyncio
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
        self._quiet_waiters = []  # futures done at the next quiet moment
        self._quiet_check = None  # the timer that looks whether a pause has lasted QUIET_PERIOD

    def request_started(self):
        self.after_pause = self.in_flight == 0 and time.monotonic() - self.last_seen >= QUIET_PERIOD
        self.in_flight += 1
        if self._quiet_check is not None:
            self._quiet_check.cancel()
            self._quiet_check = None
        if self.after_pause:
            self.recheck()  # a lone request: waiting work may go now (``lone``)

    def request_ended(self):
        self.in_flight -= 1
        self.last_seen = time.monotonic()
        if not self.in_flight and self._quiet_waiters:
            self._check_quiet_in(QUIET_PERIOD)

    def quiet_for(self):
        return 0.0 if self.in_flight else time.monotonic() - self.last_seen

    def lone(self):
        """The request being answered came after a pause, and none overlaps it."""
        return self.after_pause and self.in_flight <= 1

    def yield_time(self, waiting_since, lone_goes_now=True):
        """Seconds work queued at ``waiting_since`` may still wait for a quiet moment
        (``next_quiet``); 0: do it now. ``lone_goes_now=False``: a lone request's work waits too."""
        if lone_goes_now and self.lone():
            return 0
        waited = time.monotonic() - waiting_since
        if self.quiet_for() >= QUIET_PERIOD or waited >= MAX_YIELD:
            return 0
        return MAX_YIELD - waited

    async def until_quiet(self, timeout, event=None, quiet=True):
        """Wait at most ``timeout`` seconds for ``next_quiet`` (unless ``quiet`` is false) or for
        ``event`` to be set; returns whether the wait ended because ``event`` was set."""
        set_event = None if event is None else asyncio.ensure_future(event.wait())
        waiters = {set_event, self.next_quiet() if quiet else None} - {None}
        try:
            # asyncio.wait, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
            # lands as the event fires, and then shutdown waits for this task in vain.
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return set_event is not None and set_event.done() and not set_event.cancelled()

    def next_quiet(self):
        """A future done when Datasette has been idle for QUIET_PERIOD, a lone request starts,
        or ``recheck`` is called; whoever waits for it cancels it when done waiting."""
        future = asyncio.get_running_loop().create_future()
        self._quiet_waiters = [f for f in self._quiet_waiters if not f.done()]
        self._quiet_waiters.append(future)
        if not self.in_flight:
            self._check_quiet_in(QUIET_PERIOD - self.quiet_for())
        return future

    def recheck(self):
        """Wake everyone waiting for a quiet moment, to look at their reason to wait again."""
        waiters, self._quiet_waiters = self._quiet_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    def _check_quiet_in(self, delay):
        if self._quiet_check is None:
            self._quiet_check = asyncio.get_running_loop().call_later(
                max(delay, 0), self._check_quiet
            )

    def _check_quiet(self):
        self._quiet_check = None
        if self.in_flight:
            return  # the request's end looks again
        quiet = self.quiet_for()
        if quiet >= QUIET_PERIOD:
            self.recheck()
        else:
            self._check_quiet_in(QUIET_PERIOD - quiet)


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
