"""The email sender: one background task per Datasette that routes new events, queues the daily
digests and sends what is due, with retries.

Durability needs no journal (unlike webhooks' outbox): an event is written in the same
transaction as the comment or resolution it is about, and every later step (routing, digest,
each attempt) is one transaction of the internal DB. A SIGKILL loses nothing that was
acknowledged; the only repeat possible is a message the SMTP server accepted in the instant
before the process died, sent again with the same Message-ID.

Daily digests are made by this task too, not by core's jobs: a job left running by a dead
process becomes ``interrupted`` and is not resumed, while the digest needs only "has today's
digest been queued?", kept as one row (``email_state.digest_day``) written in the transaction
that queues the digests. After a restart the task sees a missed day and catches up once.
"""

import asyncio
import logging
import random
import weakref

from datasette.database import DatasetteClosedError
from datasette.utils import StartupError
from datasette_internal_db import InvalidInput, clock, is_read_node

from . import mail, notify, store_email
from .actors import actors_for
from .settings import email_config, plugin

log = logging.getLogger("datasette_internal_comments")

# Posts in quick succession are sent together: the task waits this long after being woken.
BATCH_SECONDS = 1.0
# Checked at least this often for retries and the digest hour.
IDLE_SECONDS = 60.0
# Seconds before attempt 2, 3, ... (±20 % jitter); after the last the message has failed.
RETRY_DELAYS = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
BATCH_SIZE = 100
DAY = 86400

_senders = weakref.WeakKeyDictionary()


def enabled(datasette):
    """Is email configured (``smtp_host``)? Without it nothing is queued or sent."""
    return email_config(datasette).enabled


def digest_day(datasette, now_ts):
    """Days since the epoch, counted from the configured digest hour (UTC)."""
    return int((now_ts - email_config(datasette).digest_hour * 3600) // DAY)


def retry_delay(attempts):
    delay = RETRY_DELAYS[attempts - 1]
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not a secret)


# Each message's work waits for a moment without requests in flight, but never longer than this.
MAX_YIELD = 0.1


class Sender:
    def __init__(self, datasette):
        self.datasette = datasette
        self.woken = asyncio.Event()
        self.lock = asyncio.Lock()
        self.requests_in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def yield_to_requests(self):
        """Email can wait; people cannot: let requests being answered go first."""
        if self.requests_in_flight:
            try:
                await asyncio.wait_for(self.idle.wait(), MAX_YIELD)
            except asyncio.TimeoutError:
                pass

    def count_requests(self, app):
        """ASGI middleware keeping ``requests_in_flight`` (asgi_wrapper, with email on)."""

        async def counted(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            self.requests_in_flight += 1
            self.idle.clear()
            try:
                await app(scope, receive, send)
            finally:
                self.requests_in_flight -= 1
                if not self.requests_in_flight:
                    self.idle.set()

        return counted

    async def run(self, datasette):
        try:
            await store_email.retry_now(datasette, clock.now())
            while True:
                try:
                    await run_once(datasette)
                except DatasetteClosedError:
                    raise
                except Exception:
                    log.exception("Comments email: a sending pass failed; trying again later")
                await self.sleep()
        except DatasetteClosedError:
            return  # shutting down: what is pending stays pending for the next start

    async def sleep(self):
        due = await store_email.next_due_at(self.datasette)
        now = clock.now()
        next_digest = (digest_day(self.datasette, now) + 1) * DAY
        next_digest += email_config(self.datasette).digest_hour * 3600
        wait = min(IDLE_SECONDS, max(next_digest - now, 0))
        if due is not None:
            wait = min(wait, max(due - now, 0))
        try:
            await asyncio.wait_for(self.woken.wait(), timeout=max(wait, BATCH_SECONDS))
            await asyncio.sleep(BATCH_SECONDS)
        except asyncio.TimeoutError:
            pass
        self.woken.clear()


def sender_for(datasette):
    if datasette not in _senders:
        _senders[datasette] = Sender(datasette)
    return _senders[datasette]


def asgi_wrapper(datasette):
    """Count requests in flight when email is on (the sender yields to them); else nothing."""
    try:
        on = enabled(datasette)
    except InvalidInput:
        on = False  # the startup hook reports the mistake
    if not on:
        return lambda app: app
    return sender_for(datasette).count_requests


def start(datasette):
    """The startup hook: check the email configuration (a mistake stops ``datasette serve``
    naming the key), then start the sending task on a primary with email configured."""
    try:
        email_config(datasette)
    except InvalidInput as error:
        raise StartupError(f"plugins.{plugin.name}.email in datasette.yaml: {error}") from None
    if not enabled(datasette) or is_read_node(datasette):
        return
    sender = sender_for(datasette)
    datasette.add_background_task(sender.run, name="datasette-internal-comments-email")


def wake(datasette):
    """Something was queued: send soon (after BATCH_SECONDS, with whatever else comes)."""
    sender = _senders.get(datasette)
    if sender is not None:
        sender.woken.set()


async def run_once(datasette):
    """One pass: route new events, queue digests when the day turned, send what is due.

    Passes never overlap within a process (core's lock keeps a second process off the file),
    so no message is picked up twice.
    """
    sender = sender_for(datasette)
    async with sender.lock:
        now = clock.now()
        await notify.route_new_events(datasette, now, clock.iso(now))
        today = digest_day(datasette, now)
        if await store_email.digest_day(datasette) != today:  # read first: no write per pass
            queued = await store_email.make_digests(
                datasette, today, now, clock.iso(now), notify.domain(datasette)
            )
            if queued:
                log.info("Comments email: %d daily digest(s) queued", queued)
        while due := await store_email.due_messages(datasette, now, BATCH_SIZE):
            await send_batch(datasette, due)
            if len(due) < BATCH_SIZE:
                break


async def send_batch(datasette, due):
    config = email_config(datasette)
    items = await store_email.message_items(datasette, [m["id"] for m in due])
    actors = await actors_for(datasette, {m["recipient_id"] for m in due})
    addresses = await notify.addresses_for(datasette, actors)
    turned_off = await notify.turned_off(datasette, actors)
    verdicts = {}  # one permission answer per recipient and target in a batch
    results, ready, built = {}, [], []
    sender = sender_for(datasette)
    for message in due:
        await sender.yield_to_requests()
        try:
            composed = await build(
                datasette,
                message,
                items.get(message["id"], []),
                actors,
                (addresses, turned_off, verdicts),
            )
        except ValueError as error:  # a header the policy refused (CR/LF), or a bad address
            composed = f"cannot be built: {mail.describe(error)}"
        if isinstance(composed, str):
            results[message["id"]] = {"status": "dropped", "last_error": composed}
        else:
            ready.append(message)
            built.append(composed)
    outcomes = await mail.deliver(config, built, sender.yield_to_requests) if built else []
    for message, composed, outcome in zip(ready, built, outcomes, strict=True):
        fields = {
            "address": composed["To"],
            "subject": str(composed["Subject"]),
            "attempts": message["attempts"] + 1,
            "last_error": outcome.error or None,
        }
        if outcome.status == "retry" and fields["attempts"] <= len(RETRY_DELAYS):
            fields["status"] = "pending"
            fields["next_attempt_at"] = clock.now() + retry_delay(fields["attempts"])
        else:
            fields["status"] = "sent" if outcome.status == "sent" else "failed"
        results[message["id"]] = fields
    await store_email.finish(datasette, results, clock.iso())


async def build(datasette, message, items, actors, known):
    """The EmailMessage to send, or why there is none (the message is then dropped)."""
    config = email_config(datasette)
    recipient = message["recipient_id"]
    if message["kind"] == "test":
        return mail.compose(
            config,
            to=message["address"],
            subject="Test email from Datasette comments",
            text="This is a test of the comments plugin's email settings. It works.\n",
            html=None,
            message_id=message["message_id"],
            thread_ref=None,
            unsubscribe_url=None,
        )
    addresses, turned_off, verdicts = known
    if recipient in turned_off:
        return "the recipient turned email off"
    address = addresses.get(recipient)
    if address is None:
        return "no email address for this actor"
    actor = actors.get(recipient) or {"id": recipient}
    visible = await notify.visible_items(datasette, actor, items, verdicts)
    shown = await notify.present(datasette, visible)
    if not shown:
        return "nothing the recipient may still read"
    urls = notify.links(datasette, recipient)
    subject = notify.subject_for(message["kind"], shown)
    thread_ref = None
    if message["kind"] == "each":
        thread_ref = f"<comments-thread.{shown[0]['thread_id']}@{notify.domain(datasette)}>"
    return mail.compose(
        config,
        to=address,
        subject=subject,
        text=notify.text_body(shown, urls),
        html=await notify.html_body(datasette, shown, urls, subject),
        message_id=message["message_id"],
        thread_ref=thread_ref,
        unsubscribe_url=urls["unsubscribe"],
    )
