"""The outbox: messages enqueued by events, committed to the delivery tables in batches."""

import asyncio
import json
import logging
import os
import time

from datasette.database import DatasetteClosedError
from datasette_internal_db import clock

from . import store_deliveries

log = logging.getLogger("datasette_internal_webhooks")

FLUSH_RETRY_DELAY = 1.0


class Outbox:
    """Enqueue messages with group commit: every write carries all messages buffered meanwhile.

    With a ``journal_path`` (``durable_enqueue``, the default) ``add`` first appends the message
    to that file with one ``write(2)``, so once ``add`` returns the message survives a crash of
    this process (the same promise as the internal DB's WAL with ``synchronous=NORMAL``); the
    journal is emptied whenever everything in it is committed, and read back into the outbox at
    startup. Without a journal a crash loses the messages not yet committed (a few milliseconds).
    """

    def __init__(self, datasette, journal_path, activity, on_flushed, outcomes):
        self.datasette = datasette
        self.activity = activity
        self.journal_path = journal_path
        self.on_flushed = on_flushed
        # The worker's attempt outcomes waiting to be written ride along with each commit (one
        # write instead of two): ``disable_after()``, ``take_outcomes()``, then
        # ``outcomes_written(outcomes, disabled)``.
        self.outcomes = outcomes
        self._journal = None
        if journal_path is not None:
            self._journal = os.open(journal_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        self._buffer = []
        self._buffered_since = None  # time.monotonic() of the oldest message in the buffer
        # A buffered message's deliveries wait for its commit (they were not sent early).
        self._awaited = False
        self._uncommitted = 0  # messages added or recovered and not yet committed
        self._waiters = 0  # callers of committed(): they need the commit now
        self._closing = False  # shutting down: one more attempt, no retries
        self._retrying = False  # the latest attempt failed; the next one is a second away
        self._flusher = None

    @property
    def journaled(self):
        return self._journal is not None

    def recover(self, known_endpoint_ids):
        """Queue the messages a crash left in the journal; returns how many it holds.

        Deliveries to endpoints deleted meanwhile are dropped.
        """
        if self._journal is None:
            return 0
        with open(self.journal_path, "rb") as journal:
            lines = journal.read().split(b"\n")
        recovered = []
        for line in lines:
            try:
                message_id, event_type, payload, endpoint_ids = json.loads(line)
            except ValueError:
                continue  # an empty line, or the tail of a write cut short
            endpoint_ids = [e for e in endpoint_ids if e in known_endpoint_ids]
            recovered.append((message_id, event_type, payload, endpoint_ids))
        # Already in the journal: queued without writing them there again.
        self._buffer[:0] = recovered
        self._uncommitted += len(recovered)
        self._awaited = self._awaited or bool(recovered)
        self._start_flusher()
        return len(recovered)

    def add(self, message_id, event_type, payload, endpoint_ids, sent_early=False):
        """``sent_early``: its deliveries went before the commit (``Worker.send_early``), which
        then need not hurry."""
        message = (message_id, event_type, payload, endpoint_ids)
        if self._journal is not None:
            line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
            try:
                os.write(self._journal, line)
            except OSError:
                log.exception("Could not journal webhook message %s; kept in memory", message_id)
        self._buffer.append(message)
        self._uncommitted += 1
        self._awaited = self._awaited or not sent_early
        self._start_flusher()

    def _start_flusher(self):
        if not self._buffer:
            return
        if self._buffered_since is None:
            self._buffered_since = time.monotonic()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self):
        while self._buffer:
            # Journaled messages are safe already: commit them in a quiet moment, in bulk. A
            # lone write's commit goes at once only if its deliveries wait for it.
            while (
                self._journal is not None
                and not self._waiters
                and (delay := self.activity.yield_time(self._buffered_since, self._awaited))
            ):
                await self.activity.until_quiet(delay)
            disable_after = await self.outcomes.disable_after()
            batch, self._buffer = self._buffer, []
            awaited, self._awaited = self._awaited, False
            queued_at, self._buffered_since = self._buffered_since, None
            outcomes = self.outcomes.take_outcomes()
            due, disabled = None, []
            try:
                due, disabled = await store_deliveries.enqueue(
                    self.datasette, batch, clock.now(), outcomes, disable_after
                )
            except DatasetteClosedError:
                return  # shutting down: the journal keeps the batch for the next start
            except Exception:
                log.exception("Could not store %d webhook message(s); retrying", len(batch))
            finally:
                if outcomes:
                    await self.outcomes.outcomes_written(outcomes, disabled)
            if due is None:
                self._buffer[:0] = batch
                self._buffered_since = queued_at
                self._awaited = self._awaited or awaited
                if self._closing:
                    return  # the journal keeps them for the next start
                self._retrying = True
                await asyncio.sleep(FLUSH_RETRY_DELAY)
                self._retrying = False
                continue
            self._uncommitted -= len(batch)
            if self._uncommitted == 0 and self._journal is not None:
                os.ftruncate(self._journal, 0)  # every journaled message is committed
            self.on_flushed(due, queued_at)

    async def committed(self):
        """Wait until every message added so far is committed (or could not be)."""
        self._waiters += 1
        self.activity.recheck()  # the flusher stops waiting for a quiet moment
        try:
            while self._flusher is not None and not self._flusher.done():
                await asyncio.wait({self._flusher})
        finally:
            self._waiters -= 1

    async def drain(self, timeout=5):
        """Commit what is buffered (for shutdown); the journal keeps anything that could not be."""
        self._waiters += 1
        self.activity.recheck()
        self._closing = True
        if self._flusher is not None and self._retrying:
            self._flusher.cancel()  # no waiting out the retry delay: one last attempt now
            self._flusher, self._retrying = None, False
            self._start_flusher()
        if self._flusher is not None:
            await asyncio.wait({self._flusher}, timeout=timeout)
            self._flusher.cancel()
        if self._journal is not None:
            os.close(self._journal)
            self._journal = None
            if self._uncommitted == 0:
                os.unlink(self.journal_path)
