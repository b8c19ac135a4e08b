"""The delivery worker: sends due messages, records attempts, schedules retries, prunes."""

import asyncio
import email.utils
import logging
import random
import re
import time
from collections import Counter, deque
from dataclasses import dataclass

import aiohttp
from datasette.database import DatasetteClosedError
from datasette_internal_db import clock

from . import store, store_deliveries
from .activity import QUIET_PERIOD
from .settings import plugin
from .signing import signature_header
from .ssrf import RefusedAddress, UnsafeURL, check_url, guarded_socket

log = logging.getLogger("datasette_internal_webhooks")

# Seconds to wait after each failed attempt (Svix's schedule); attempt 1 is immediate, so a
# message gets 8 attempts over about 27 hours before it is marked failed.
RETRY_DELAYS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
JITTER = 0.2
MAX_RETRY_AFTER = 24 * 3600
MAX_RESPONSE_BYTES = 2048
RESTART_DELAY = 1.0
# Attempt outcomes wait up to this long (or until OUTCOME_BATCH of them wait) so that one
# transaction writes them all: each write is a trip to the write thread, whose Python work
# competes with the event loop (and the requests it answers) for the GIL.
OUTCOME_WRITE_INTERVAL = 0.05
OUTCOME_BATCH = 500
# While a backlog drains (rows wait in the in-memory queues), outcomes wait this long: each
# write costs the event loop and the write thread a fixed part (Datasette's write path, the
# commit) besides its rows, and a batch of hundreds shares it.
OUTCOME_DRAIN_INTERVAL = 0.25
# While requests come back to back, outcomes wait longer, up to this (the outbox commits that
# those requests' events cause take them along): no write of their own between requests.
OUTCOME_MAX_YIELD = 1.0
SETTINGS_CHECK_INTERVAL = 0.5
PRUNE_INTERVAL = 3600
USER_AGENT = "datasette-internal-webhooks"


def retry_delay(attempts_made, retry_after=None):
    """Seconds until the next attempt after ``attempts_made`` failed ones, or None: give up.

    Jitter of ±20% spreads retries; a receiver's Retry-After (capped at 24 h) is a minimum.
    """
    if attempts_made > len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[attempts_made - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value, now):
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when unusable."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch("[0-9]+", value):
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


@dataclass
class EarlyDelivery:
    """A delivery sent before the outbox commit gave it an id (``Worker.send_early``)."""

    delivery_id: int | None = None
    outcome: dict | None = None  # finished before its id was known: written once it is


class Worker:
    def __init__(self, state):
        self.state = state
        self.options = state.options
        self._wake = asyncio.Event()
        self._queued = {}  # endpoint id -> deque of due rows taken from the table, not yet sent
        self._queued_ids = set()
        self._queued_since = None  # time.monotonic() when the queues last became non-empty
        self._hold = None  # seconds the queued deliveries are yielding to requests
        self._prefetch = self.options.concurrency_per_endpoint * 16
        # A sender that leaves this many rows in its queue asks the loop to read more meanwhile.
        self._low_water = self.options.concurrency_per_endpoint * 4
        self._sending = {}  # delivery id -> endpoint id, while its request is in flight
        self._endpoints = {}  # active endpoint id -> endpoint, as of the loop's latest pass
        self._senders = Counter()  # endpoint id -> senders working through its queue
        self._unwritten = {}  # delivery id -> endpoint id, finished but its outcome not written
        self._early = {}  # (message id, endpoint id) -> EarlyDelivery, until its id is known
        self._session = None
        self._outcomes = []
        # Ids whose outcome was written while a due-query was running: that query's snapshot
        # may still show them pending, so they must not be sent again from its rows.
        self._written_during_query = set()
        self._outcome_ready = asyncio.Event()
        self._write_outcomes_now = asyncio.Event()  # a full batch waits, or idle() asks
        self._pruned_at = None
        self._tasks = set()
        # url -> yarl.URL to send to, or the refusal; the config cannot change at runtime
        self._targets = {}
        self._settings = {}  # runtime setting -> (value, monotonic time read)
        # False only while every due row is known to be queued here: a read would find nothing.
        self._check_table = True
        # What the loop last did, observable by tests: its passes, and the pause it obeyed.
        self.passes = 0
        self.paused = False

    def wake(self):
        """Look at the table again soon: something there may have become due."""
        self._check_table = True
        self._wake.set()

    def offer(self, due, queued_at):
        """Queue deliveries just enqueued, sparing a read; the rest wait in the table."""
        active = {e["id"] for e in self.state.active_endpoints}
        for row in due:
            early = self._early.get((row[1], row[2]))
            if early is not None:
                self._adopt(early, row)
                continue
            queue = self._queued.setdefault(row[2], deque())
            if row[2] in active and len(queue) < self._prefetch:
                queue.append(row)
                self._queued_ids.add(row[0])
                self._note_queued(queued_at)
            else:
                self._check_table = True
        self._wake.set()

    def send_early(self, message_id, payload, endpoint_ids):
        """Send a lone write's deliveries now, before the outbox commit that gives them ids (the
        caller journals the message right after, before the write's response, so a crash after
        that response still sends it again); each outcome is written once its id is known. Only
        to endpoints with nothing queued or being sent. Returns whether any delivery started."""
        if self._session is None or self.paused:
            return False
        started = False
        for endpoint_id in endpoint_ids:
            endpoint = self._endpoints.get(endpoint_id)
            if endpoint is None or self._senders[endpoint_id] or self._queued.get(endpoint_id):
                continue
            self._early[(message_id, endpoint_id)] = EarlyDelivery()
            self._senders[endpoint_id] += 1
            row = (None, message_id, endpoint_id, 0, payload)
            self._track(self._send_early(row, endpoint))
            started = True
        return started

    async def _send_early(self, row, endpoint):
        try:
            await self._deliver(self._session, row, endpoint)
        finally:
            self._senders[row[2]] -= 1
            self._wake.set()

    def _adopt(self, early, row):
        """The outbox commit gave an early delivery its row: record its outcome under that id."""
        if early.outcome is None:
            early.delivery_id = row[0]
            self._sending[row[0]] = row[2]  # in flight: a read of due rows must skip it
            return
        del self._early[(row[1], row[2])]
        self._record(dict(early.outcome, delivery_id=row[0]))

    def _track(self, coroutine):
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _note_queued(self, queued_at=None):
        if self._queued_since is None:
            self._queued_since = time.monotonic() if queued_at is None else queued_at

    async def run(self, datasette):
        """The supervised loop: any error is logged and the loop starts again."""
        while True:
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except DatasetteClosedError:
                return
            except Exception:
                log.exception("Webhook worker failed; restarting in %.0fs", RESTART_DELAY)
                await asyncio.sleep(RESTART_DELAY)

    async def _run(self):
        connector = aiohttp.TCPConnector(
            socket_factory=guarded_socket(self.options.allow_networks),
            limit=self.options.max_in_flight,
            limit_per_host=self.options.concurrency_per_endpoint,
            ttl_dns_cache=10,
        )
        timeout = aiohttp.ClientTimeout(total=self.options.timeout_seconds)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            self._session = session
            writer = asyncio.create_task(self._write_loop())
            try:
                while True:
                    await self._maybe_prune()
                    self.paused = await self._setting("paused")
                    if not self.paused:
                        await self._launch_due(session)
                    self.passes += 1
                    await self._sleep()
            finally:
                self._session = None
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
                await self._write_outcomes()
                self._sending.clear()
                self._unwritten.clear()
                self._early.clear()
                self._queued.clear()
                self._queued_ids.clear()
                self._queued_since = None

    async def _setting(self, key):
        """A runtime setting, read at most every SETTINGS_CHECK_INTERVAL seconds."""
        value, read_at = self._settings.get(key, (None, None))
        if read_at is None or time.monotonic() - read_at > SETTINGS_CHECK_INTERVAL:
            value = await plugin.settings.get(self.state.datasette, key)
            self._settings[key] = (value, time.monotonic())
        return value

    def _target(self, url):
        """The save-time URL check again (the config may have changed since), cached with the
        parsed URL (aiohttp would parse the string on every request). Only a clearer early
        refusal: every connection is checked by ``guarded_socket`` anyway."""
        if url not in self._targets:
            try:
                self._targets[url] = check_url(
                    url, self.options.allow_networks, self.options.https_only
                )
            except UnsafeURL as problem:
                self._targets[url] = f"Refused: {problem}"
        target = self._targets[url]
        if isinstance(target, str):
            raise UnsafeURL(target)
        return target

    async def _sleep(self):
        hold, self._hold = self._hold, None
        # Held deliveries go at Datasette's next quiet moment, or once they waited MAX_YIELD.
        woken = await self.state.activity.until_quiet(
            hold or self.options.poll_interval, self._wake, quiet=bool(hold)
        )
        if not woken and not hold:
            self._check_table = True  # retries fall due with time
        self._wake.clear()

    async def _launch_due(self, session):
        endpoints = self._endpoints = {e["id"]: e for e in self.state.active_endpoints}
        for endpoint_id in [e for e in self._queued if e not in endpoints]:
            # Disabled or deleted: its rows stay pending in the table.
            self._queued_ids.difference_update(row[0] for row in self._queued.pop(endpoint_id))
        limits = {
            endpoint_id: self._prefetch
            for endpoint_id in endpoints
            if len(self._queued.get(endpoint_id, ())) <= self._low_water
        }
        self._start_senders(session)  # what is queued goes out before any read
        if limits and self._check_table:
            self._check_table = False
            if await self._claim_due(limits):
                self._check_table = True
            self._start_senders(session)

    async def _claim_due(self, limits):
        """Move due rows from the table into the in-memory queues (one read for many sends).

        Returns True when an endpoint's rows filled its limit: more may be waiting.
        """
        now = clock.now()
        self._written_during_query = set()
        # Claimed rows are still 'pending' in the table: the read leaves them out.
        claimed = self._queued_ids | self._sending.keys() | self._unwritten.keys()
        rows = await store_deliveries.due_deliveries(self.state.datasette, limits, now, claimed)
        skip = (
            self._written_during_query
            | self._queued_ids
            | set(self._sending)
            | set(self._unwritten)
        )
        for row in rows:
            if row[0] not in skip and (row[1], row[2]) not in self._early:
                self._queued.setdefault(row[2], deque()).append(row)
                self._queued_ids.add(row[0])
                self._note_queued()
        returned = Counter(row[2] for row in rows)
        return any(returned[endpoint_id] >= limit for endpoint_id, limit in limits.items())

    def _start_senders(self, session):
        """Senders for the queued rows: at most ``concurrency_per_endpoint`` per endpoint and
        ``max_in_flight`` in all, each sending one row after another from its endpoint's queue
        (no task and no loop pass per delivery)."""
        if not self._queued_ids:
            self._queued_since = None
            return
        # Yield to requests being answered (see activity.py), counting from the enqueue.
        self._hold = self.state.activity.yield_time(self._queued_since) or None
        if self._hold:
            return
        room = self.options.max_in_flight - sum(self._senders.values())
        for endpoint_id, queue in self._queued.items():
            # Each sender is sending a row or about to take the next: one more per queued row.
            free = self.options.concurrency_per_endpoint - self._senders[endpoint_id]
            for _ in range(min(free, room, len(queue))):
                self._senders[endpoint_id] += 1
                room -= 1
                self._track(self._send_queued(session, endpoint_id))

    async def _send_queued(self, session, endpoint_id):
        try:
            while not self.paused and (queue := self._queued.get(endpoint_id)):
                endpoint = self._endpoints.get(endpoint_id)
                if endpoint is None:
                    return  # disabled or deleted: the loop drops its queue
                if self.state.activity.yield_time(self._queued_since):
                    return  # the loop waits for a quiet moment and starts senders again
                row = queue.popleft()
                self._queued_ids.discard(row[0])
                if not self._queued_ids:
                    self._queued_since = None
                if len(queue) == self._low_water:
                    self._wake.set()  # read the next rows while these go out
                self._sending[row[0]] = endpoint_id
                await self._deliver(session, row, endpoint)
        finally:
            self._senders[endpoint_id] -= 1
            self._wake.set()

    async def _deliver(self, session, row, endpoint):
        delivery_id, message_id, endpoint_id, attempts, payload = row
        body = payload.encode()
        attempted_at = clock.now()
        status_code = response_body = error = retry_after = None
        started = time.perf_counter()
        try:
            target = self._target(endpoint["url"])
            keys = await self.state.signing_keys(endpoint)
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": message_id,
                "webhook-timestamp": str(int(attempted_at)),
                "webhook-signature": signature_header(keys, message_id, int(attempted_at), body),
            }
            async with session.post(
                target, data=body, headers=headers, allow_redirects=False
            ) as response:
                status_code = response.status
                retry_after = parse_retry_after(response.headers.get("retry-after"), attempted_at)
                response_body = (await response.content.read(MAX_RESPONSE_BYTES)).decode(
                    "utf-8", "replace"
                )
        except asyncio.CancelledError:
            raise
        except UnsafeURL as problem:
            error = str(problem)
        except aiohttp.ClientConnectorError as problem:
            if isinstance(problem.os_error, RefusedAddress):
                error = f"Refused: {problem.os_error.strerror}"
            else:
                error = f"{type(problem).__name__}: {problem}"[:500]
        except asyncio.TimeoutError:
            error = f"Timed out after {self.options.timeout_seconds:g}s"
        except Exception as problem:
            error = f"{type(problem).__name__}: {problem}"[:500]
        latency_ms = (time.perf_counter() - started) * 1000
        succeeded = status_code is not None and 200 <= status_code < 300
        if status_code is not None and not succeeded and error is None:
            error = f"HTTP {status_code}"
            if 300 <= status_code < 400:
                error += " (redirects are not followed)"
        gone = status_code == 410
        next_attempt_at = None
        if not succeeded and not gone:
            delay = retry_delay(attempts + 1, retry_after)
            next_attempt_at = None if delay is None else attempted_at + delay
        outcome = {
            "delivery_id": delivery_id,
            "message_id": message_id,
            "endpoint_id": endpoint_id,
            "attempted_at": attempted_at,
            "status_code": status_code,
            "latency_ms": round(latency_ms, 2),
            "response_body": response_body,
            "error": error,
            "succeeded": int(succeeded),
            "next_attempt_at": next_attempt_at,
            "gone": gone,
        }
        if delivery_id is None:
            key = (message_id, endpoint_id)
            early = self._early[key]
            if early.delivery_id is None:
                early.outcome = outcome  # the outbox commit has not given it an id yet
                return
            del self._early[key]
            outcome["delivery_id"] = early.delivery_id
        self._record(outcome)

    def _record(self, outcome):
        """Queue a finished attempt's outcome for the next batch write."""
        self._sending.pop(outcome["delivery_id"], None)
        self._unwritten[outcome["delivery_id"]] = outcome["endpoint_id"]
        self._outcomes.append(outcome)
        self._outcome_ready.set()
        if len(self._outcomes) >= OUTCOME_BATCH:
            self._write_outcomes_now.set()

    async def _write_loop(self):
        while True:
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            await self._gather_outcomes()
            try:
                await self._write_outcomes()
            except Exception:
                log.exception("Could not record webhook delivery outcomes")

    async def _gather_outcomes(self):
        """Wait for more outcomes to write with these: OUTCOME_WRITE_INTERVAL, or
        OUTCOME_DRAIN_INTERVAL while a backlog drains, and then while requests come back to
        back, up to OUTCOME_MAX_YIELD (an outbox commit may take them along meanwhile). Until
        written, their rows stay pending: a crash sends them again."""
        if len(self._outcomes) >= OUTCOME_BATCH:
            return
        self._write_outcomes_now.clear()
        started = time.monotonic()
        timeout, busy = OUTCOME_WRITE_INTERVAL, False
        while True:
            await self.state.activity.until_quiet(timeout, self._write_outcomes_now, quiet=busy)
            waited = time.monotonic() - started
            if self._write_outcomes_now.is_set() or not self._outcomes:
                return
            if waited >= OUTCOME_MAX_YIELD:
                return
            busy = self.state.activity.quiet_for() < QUIET_PERIOD
            draining = self._queued_ids and waited < OUTCOME_DRAIN_INTERVAL
            if not busy and not draining:
                return
            timeout = OUTCOME_MAX_YIELD - waited
            if draining:
                # Looked at again each interval: the backlog may be gone by then.
                timeout = min(timeout, OUTCOME_WRITE_INTERVAL, OUTCOME_DRAIN_INTERVAL - waited)

    async def disable_after(self):
        """Seconds of failure after which an endpoint is disabled (a runtime setting)."""
        return await self._setting("disable_after_hours") * 3600

    def take_outcomes(self):
        """The outcomes waiting to be written, for a write that records them (this worker's,
        or an outbox commit's: one transaction for both); ``outcomes_written`` must follow."""
        batch, self._outcomes = self._outcomes, []
        return batch

    async def outcomes_written(self, batch, disabled):
        # Written or not, these may be picked up again: at worst a message goes out twice.
        for outcome in batch:
            self._unwritten.pop(outcome["delivery_id"], None)
            self._written_during_query.add(outcome["delivery_id"])
        if disabled:
            for endpoint_id, reason in disabled:
                log.warning("Webhook endpoint %s disabled: %s", endpoint_id, reason)
            await self.state.reload_endpoints()
        self._wake.set()

    async def _write_outcomes(self):
        if not self._outcomes:
            return
        disable_after = await self.disable_after()
        batch = self.take_outcomes()
        disabled = []
        try:
            disabled = await store_deliveries.record_outcomes(
                self.state.datasette, batch, clock.now(), disable_after
            )
        finally:
            await self.outcomes_written(batch, disabled)

    async def _maybe_prune(self):
        now = clock.now()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_INTERVAL:
            return
        self._pruned_at = now
        await prune(self.state.datasette, now)

    def sending(self):
        """How many deliveries are in flight or finished with their outcome not yet written."""
        return len(self._sending) + len(self._unwritten) + len(self._early)

    async def idle(self, timeout=10):
        """For tests: wait until nothing is due now, in flight or unwritten (outcomes are
        written without waiting for a batch)."""
        deadline = time.monotonic() + timeout
        await self.state.outbox.committed()
        while time.monotonic() < deadline:
            due = await store_deliveries.next_due_time(self.state.datasette)
            busy = self.sending() or self._queued_ids
            if not busy and (due is None or due > clock.now()):
                return
            self.wake()
            self._write_outcomes_now.set()
            await asyncio.sleep(0.02)
        raise TimeoutError("webhook worker still busy")


async def prune(datasette, now):
    log_days = await plugin.settings.get(datasette, "log_retention_days")
    received_days = await plugin.settings.get(datasette, "received_retention_days")
    await store_deliveries.prune_outgoing(datasette, now - log_days * 86400)
    await store.prune_incoming(datasette, now - received_days * 86400)
