import asyncio
import datetime
import sqlite3
import threading
import time

import pytest
from aiohttp import web
from datasette_internal_db import audit
from datasette_internal_db.testing import (  # noqa: F401 (frozen_time: a fixture)
    close,
    cookies_for,
    free_port,
    frozen_time,
    make_datasette,
)
from datasette_internal_webhooks.state import get_state
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ALLOW_LOOPBACK = {"allow_networks": ["127.0.0.1/32"], "poll_interval": 0.05}


class Receiver:
    """A real HTTP receiver on 127.0.0.1, in its own thread, verifying with standardwebhooks.

    ``respond(request_number)`` may return (status, headers, delay) to misbehave; the delay is
    seconds, or a ``threading.Event``: the answer waits until it is set.
    """

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.secrets = []
        self.received = []
        self.respond = lambda number: (200, {}, 0)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _serve(self):
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._main())

    async def _main(self):
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _handle(self, request):
        body = await request.read()
        headers = dict(request.headers)
        verified = None
        if self.secrets:
            verified = False
            for secret in self.secrets:
                try:
                    Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
                    verified = True
                except WebhookVerificationError:
                    pass
        with self._lock:
            number = len(self.received)
            self.received.append(
                {
                    "path": request.path,
                    "query": request.query_string,
                    "headers": headers,
                    "body": body,
                    "verified": verified,
                }
            )
        status, extra_headers, delay = self.respond(number)
        if isinstance(delay, threading.Event):
            await asyncio.get_running_loop().run_in_executor(None, delay.wait)
        elif delay:
            await asyncio.sleep(delay)
        return web.Response(status=status, headers=extra_headers, text=f"status {status}")

    def ids(self):
        with self._lock:
            return [r["headers"].get("webhook-id") for r in self.received]

    def wait_for(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"receiver got {len(self.received)} of {count} requests")


def signed_by(secret, request):
    """True when ``request`` carries a signature made with ``secret`` (any timestamp)."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    timestamp = datetime.datetime.fromtimestamp(
        int(headers["webhook-timestamp"]), tz=datetime.timezone.utc
    )
    expected = Webhook(secret).sign(headers["webhook-id"], timestamp, request["body"].decode())
    return expected in headers["webhook-signature"].split(" ")


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def data_db(tmp_path):
    path = tmp_path / "data.db"
    conn = sqlite3.connect(path)
    conn.execute("create table species (id integer primary key, name text)")
    conn.execute("create table other (id integer primary key, name text)")
    conn.execute("insert into species (name) values ('otter')")
    conn.commit()
    conn.close()
    return path


@pytest.fixture
async def make_ds(tmp_path, data_db):
    made = []

    async def make(config=None, **kwargs):
        plugin_config = dict(ALLOW_LOOPBACK, **(config or {}))
        datasette = await make_datasette(
            tmp_path,
            files=[data_db],
            config={"plugins": {"datasette-internal-webhooks": plugin_config}},
            secret="stable-test-secret",
            **kwargs,
        )
        datasette.root_enabled = True
        await datasette.start_background_tasks()
        made.append(datasette)
        return datasette

    yield make
    for datasette in made:
        await shutdown(datasette)


@pytest.fixture
async def ds(make_ds):
    return await make_ds()


async def shutdown(datasette):
    await datasette.invoke_shutdown()
    close(datasette)


ROOT = {"id": "root"}


def root_cookies(datasette):
    return cookies_for(datasette, "root")


async def create_endpoint(datasette, url, **fields):
    response = await datasette.client.post(
        "/-/webhooks/api/endpoints",
        json={"url": url, **fields},
        cookies=root_cookies(datasette),
    )
    assert response.status_code == 201, response.text
    data = response.json()
    return data["endpoint"], data["secret"]


async def idle(datasette, timeout=10):
    await get_state(datasette).worker.idle(timeout)


async def eventually(check, what, timeout=10):
    """Wait, without blocking the event loop, until ``check()`` is true: a bounded wait on state
    the test can observe, never a sleep of a guessed length."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.005)


def internal_db_bytes(tmp_path):
    """The internal database as stored: the main file and its write-ahead log (a fresh write
    sits in the log until a checkpoint)."""
    return b"".join(path.read_bytes() for path in tmp_path.glob("internal.db*"))


async def audit_actions(datasette):
    """The actions of this plugin's audit entries (all root's), newest first."""
    entries = await audit.entries(datasette, plugin="datasette-internal-webhooks")
    assert all(entry["actor_id"] == "root" for entry in entries)
    return [entry["action"] for entry in entries]
