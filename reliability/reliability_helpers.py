"""Shared parts of the reliability suite: data files, real servers, a real webhook receiver.

Every test here runs against real parts: ``datasette serve`` processes started with
``datasette_internal_db.testing.start_server``, real SQLite files, a real HTTP receiver on
127.0.0.1. Nothing is mocked.
"""

import asyncio
import json
import sqlite3
import threading
import time

import httpx
from aiohttp import web
from datasette_internal_db.testing import free_port, start_server

PLUGINS = [
    "datasette-internal-comments",
    "datasette-internal-bookmarks",
    "datasette-internal-webhooks",
]
WEBHOOKS = "datasette-internal-webhooks"
# Only root may see the ``secret`` table: the private-table leak tests depend on it.
PRIVATE_TABLE = {"databases": {"data": {"tables": {"secret": {"allow": {"id": "root"}}}}}}
SPECIES = ["otter", "badger", "heron", "stoat", "vole"]


def make_data_db(path):
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        create table species (id integer primary key, name text);
        create table secret (id integer primary key, code text);
        insert into secret (code) values ('launch-code-1234');
        """
    )
    conn.executemany("insert into species (name) values (?)", [(name,) for name in SPECIES])
    conn.commit()
    conn.close()
    return path


def server_config(loopback_webhooks=False, **webhook_options):
    """The datasette.yaml for every server of the suite.

    ``loopback_webhooks`` lets webhooks deliver to 127.0.0.1 (the test receivers); off, the
    plugin's SSRF guard refuses every non-public address, as in production.
    """
    options = dict(webhook_options)
    # The suite saves endpoints at example.com, which need not resolve where it runs.
    options.setdefault("allow_hosts", ["example.com"])
    if loopback_webhooks:
        options.setdefault("allow_networks", ["127.0.0.1/32"])
        options.setdefault("poll_interval", 0.05)
    return dict(PRIVATE_TABLE, plugins={WEBHOOKS: options})


def serve_all(tmp_path, data_db, config=None, extra_args=(), **kwargs):
    """A real ``datasette serve``: core, every plugin, ``--root``, tmp_path/internal.db."""
    return start_server(
        tmp_path,
        [data_db],
        args=["--root", *extra_args],
        plugins=PLUGINS,
        config=server_config() if config is None else config,
        **kwargs,
    )


def integrity(path):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("pragma integrity_check").fetchone()[0]
    finally:
        conn.close()


def rows(path, sql, params=()):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def tracebacks(server):
    """One line per traceback in the server log: the innermost project frame and the error.

    Empty when the server printed none.
    """
    summaries = []
    for block in server.log().split("Traceback (most recent call last):")[1:]:
        lines = [line for line in block.splitlines() if line.strip()]
        frames = [line.strip() for line in lines if line.strip().startswith('File "/work/main')]
        error = next(
            (line for line in lines if not line.startswith(" ") and not line.startswith("INFO")),
            "?",
        )
        summaries.append(f"{frames[-1] if frames else '?'}: {error}")
    return "\n".join(dict.fromkeys(summaries))


class Actors:
    """Signed cookies for the three kinds of actor the suite uses."""

    def __init__(self, server):
        self.anonymous = {}
        self.alice = server.cookies_for("alice")
        self.bob = server.cookies_for("bob")
        self.root = server.cookies_for("root")


def cookie_header(cookies):
    """Cookies as a header: httpx deprecates per-request ``cookies=``."""
    return {"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


def client(server, timeout=30):
    return httpx.Client(base_url=server.url, timeout=timeout)


def create_comment_thread(http, cookies, body, table="species", row="1"):
    response = http.post(
        "/-/comments/api/threads",
        json={"database": "data", "table": table, "row": row, "body": body},
        headers=cookie_header(cookies),
    )
    assert response.status_code == 200, response.text
    return response.json()["thread"]


def create_bookmark(http, cookies, url, **fields):
    response = http.post(
        "/-/bookmarks/api/bookmarks", json={"url": url, **fields}, headers=cookie_header(cookies)
    )
    assert response.status_code in (200, 201), response.text
    return response.json()["bookmark"]


def create_link(http, cookies, target, **fields):
    response = http.post(
        "/-/l/api/links", json={"target": target, **fields}, headers=cookie_header(cookies)
    )
    assert response.status_code == 201, response.text
    return response.json()["link"]


def create_endpoint(http, cookies, url, **fields):
    response = http.post(
        "/-/webhooks/api/endpoints", json={"url": url, **fields}, headers=cookie_header(cookies)
    )
    assert response.status_code == 201, response.text
    return response.json()["endpoint"]


class Receiver:
    """A real webhook receiver on 127.0.0.1 (aiohttp in its own thread).

    ``delay`` seconds before answering each request: a large value makes it hang.
    """

    def __init__(self, delay=0.0, status=200):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.delay = delay
        self.status = status
        self.received = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stopped.set)
        self.thread.join(10)

    def serve(self):
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.main())

    async def main(self):
        self.stopped = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.ready.set()
        await self.stopped.wait()
        await runner.cleanup()

    async def handle(self, request):
        body = await request.read()
        with self.lock:
            self.received.append(
                {"id": request.headers.get("webhook-id"), "body": body, "at": time.monotonic()}
            )
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.status, text="ok")

    def payloads(self):
        with self.lock:
            return [json.loads(item["body"]) for item in self.received]

    def wait_until(self, condition, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self.payloads()):
                return True
            time.sleep(0.05)
        return False
