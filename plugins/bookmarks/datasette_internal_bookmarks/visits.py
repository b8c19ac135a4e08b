"""Visit counting that never makes a redirect wait on a write.

A redirect only bumps counters in memory. A background task writes everything counted in one
``execute_write_fn`` call every FLUSH_INTERVAL seconds, and once more at shutdown. A crash (power
loss, SIGKILL) loses at most the visits of the last FLUSH_INTERVAL seconds; a clean stop loses none.
On a read node (core's ``is_read_node``) nothing can be written, so visits are not counted there.
"""

import asyncio
import logging
import math

from datasette_internal_db import clock, is_read_node

from . import store_links

FLUSH_INTERVAL = 1.0
SECONDS_PER_DAY = 86400

log = logging.getLogger("datasette_internal_bookmarks")


class VisitBuffer:
    def __init__(self):
        self.totals = {}
        # {day: {code: visits}}: the shape the flush writes, one JSON object per day, and
        # cheaper to bump per visit than one counter keyed by (code, day) tuples.
        self.days = {}
        # Codes whose counts are being written right now: their stored count is about to
        # change, so a lookup waits for ``flushed`` instead of reading it mid-way.
        self.in_flight = {}
        self.flushed = asyncio.Event()
        self.flushed.set()
        # Flushes started so far: a lookup that awaited a read checks nothing began meanwhile.
        self.generation = 0
        self.counting = True

    def record(self, code):
        if not self.counting:
            return
        # Unix time and day numbers here; text only when written (cheaper per redirect).
        now = clock.now()
        count, _ = self.totals.get(code, (0, None))
        self.totals[code] = (count + 1, now)
        day = int(now // SECONDS_PER_DAY)
        counts = self.days.get(day)
        if counts is None:
            counts = self.days[day] = {}
        counts[code] = counts.get(code, 0) + 1

    def pending(self, code):
        return self.totals.get(code, (0, None))[0]

    def unwritten(self, code):
        """(visits, last visit as ISO text or None) counted but not yet written."""
        count, last = self.totals.get(code, (0, None))
        return count, None if last is None else clock.iso(last)

    def forget(self, code):
        self.totals.pop(code, None)
        for counts in self.days.values():
            counts.pop(code, None)

    async def settled(self, code):
        """Return once no flush is writing ``code``'s count."""
        while code in self.in_flight:
            await self.flushed.wait()

    async def read_counted(self, read, code=None):
        """``await read()`` made when its stored counts and ``unwritten`` add up exactly: after
        a flush in progress (of ``code``'s count, or of any), and again if a flush started
        meanwhile (it takes counts out of memory before its write lands, so a read made then
        would miss them)."""
        while True:
            await (self.flushed.wait() if code is None else self.settled(code))
            generation = self.generation
            result = await read()
            if generation == self.generation:
                return result

    async def flush(self, datasette):
        if not self.totals:
            return 0
        totals, days = self.totals, self.days
        self.totals, self.days = {}, {}
        self.generation += 1
        self.in_flight = totals
        self.flushed.clear()
        try:
            # Times go as numbers, formatted by SQLite in the write thread: formatting one per
            # code here held the event loop for about a third of the flush.
            await store_links.add_visits(
                datasette,
                [[code, count, unix_millis(last)] for code, (count, last) in totals.items()],
                days,
            )
        except Exception:
            # Put the counts back so the next flush retries them.
            for code, (count, last) in totals.items():
                pending, newer = self.totals.get(code, (0, last))
                self.totals[code] = (count + pending, max(last, newer or last))
            for day, counts in days.items():
                kept = self.days.setdefault(day, {})
                for code, count in counts.items():
                    kept[code] = kept.get(code, 0) + count
            raise
        finally:
            self.in_flight = {}
            self.flushed.set()
        return sum(count for count, _ in totals.values())


def unix_millis(timestamp):
    """Whole milliseconds of a unix timestamp, rounded as ``clock.iso`` rounds it (microseconds
    first, then cut to milliseconds), so the text SQLite makes of it is the same."""
    seconds = math.floor(timestamp)
    return seconds * 1000 + round((timestamp - seconds) * 1_000_000) // 1000


def start_flushing(datasette, buffer):
    """The flush task, on a primary. A read node's internal DB is the primary's replica, which
    refuses every write: there visits are not counted, so none pile up and no flush fails."""
    if is_read_node(datasette):
        buffer.counting = False
        return
    datasette.add_background_task(
        lambda ds: flush_forever(ds, buffer), name="datasette-internal-bookmarks-visits"
    )


async def flush_forever(datasette, buffer):
    try:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                await buffer.flush(datasette)
            except Exception:
                log.exception("Could not write short-link visit counts; will retry")
    finally:
        await buffer.flush(datasette)
