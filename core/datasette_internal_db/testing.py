"""Helpers for testing plugins against the internal DB: in-process and as real servers.

from datasette_internal_db.testing import make_datasette, cookies_for, serve

ds = await make_datasette(tmp_path, files=[data_db], config={...})
response = await ds.client.get("/-/comments", cookies=cookies_for(ds, "alice"))

with serve(tmp_path, files=[data_db], plugins=["datasette-internal-comments"]) as server:
    httpx.get(server.url + "/-/versions.json")
"""

import contextlib
import glob
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque

import httpx
import pytest
from datasette.app import Datasette
from datasette.plugins import pm
from itsdangerous import URLSafeSerializer

from . import clock
from .database import release_server_lock

CORE = "datasette-internal-db"
# Servers' ports: below the ephemeral range; the last ones given are not given again soon.
PORTS = range(20000, 32000)
_ports_given = deque(maxlen=256)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Redirect targets that must never reach a Location header: off-site in some percent-decoded
# form, control characters (raw or encoded), not a local path, or not a string. Every redirect
# target check of every plugin is tested against it.
UNSAFE_REDIRECTS = [
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%255Cevil.example",
    "https://evil.example",
    "http://evil.example/",
    "HTTPS://evil.example",
    "ftp://evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/ok\r\nLocation: https://evil.example",
    "/ok%0d%0aSet-Cookie:%20a=b",
    "/ok\nx",
    "/\t/evil.example",
    "/%09/evil.example",
    "/\x00evil",
    "/\x7f",
    "/\u0085evil",
    "/./evil",
    "/a/../../evil",
    "/%2e%2e/evil",
    "evil.example",
    "",
    "   ",
    None,
    42,
    "/" + "a" * 5000,
    "/%2F",
    "/%2f%2fevil.example",
    "/%7F",
    "/%7Fevil",
    "/%C2%85evil",
    "/%00",
    "/%0Aevil",
    "/\u0080evil",
    "/\u009fevil",
    "/\ud800",
    "/%5C%5Cevil.example",
    "/%25%32%46%25%32%46evil.example",
    "/.%2e/evil",
    "%2Fevil",
    [],
    {"path": "/"},
]


class FakeClock:
    """Time that moves only when a test says so: ``frozen_time.advance(3600)``."""

    def __init__(self, start=1_800_000_000.0):
        self.value = start

    def now(self):
        return self.value

    def advance(self, seconds):
        self.value += seconds


@pytest.fixture
def frozen_time(monkeypatch):
    """Replace core's clock (every service's and plugin's source of time) with a FakeClock.

    Use it from a conftest.py: ``from datasette_internal_db.testing import frozen_time``.
    """
    fake = FakeClock()
    monkeypatch.setattr(clock, "now", fake.now)
    return fake


def find_chromium():
    """The Chromium browser tests use, or None: ``$CHROMIUM_PATH``, Debian's package
    (``apt-get install chromium``), another on ``PATH``, or one Playwright already installed.

    Never ``playwright install``: it downloads a browser, which machines without internet cannot.
    """
    candidates = [
        os.environ.get("CHROMIUM_PATH"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        *sorted(
            glob.glob(os.path.expanduser("~/.cache/ms-playwright/chromium-*/chrome-linux/chrome"))
        ),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


AXE_CORE_VERSION = "4.14.1"
SERIOUS = ("serious", "critical")


def find_axe_core():
    """axe-core's ``axe.min.js`` from the npm package, or None: ``$AXE_CORE_PATH``, else where
    ``nox -s tests`` unpacks it (``.nox/axe-core/package/axe.min.js`` in this folder or above)."""
    found = os.environ.get("AXE_CORE_PATH")
    if found and os.path.exists(found):
        return found
    folder = os.getcwd()
    while True:
        candidate = os.path.join(folder, ".nox", "axe-core", "package", "axe.min.js")
        if os.path.exists(candidate):
            return candidate
        if os.path.dirname(folder) == folder:
            return None
        folder = os.path.dirname(folder)


def settle(page):
    """Wait for the page's finite animations (a dialog fading in, say) to end: checked mid-way,
    colours are half-blended and boxes still moving."""
    page.evaluate(
        """Promise.all(document.getAnimations()
            .filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
            .map(a => a.finished.catch(() => null)))"""
    )


def serious_violations(page):
    """axe-core's serious and critical violations on the page Playwright shows, as
    ``{(rule id, CSS selector of the element)}``. Datasette's own pages have some: compare
    with one of them (``new = serious_violations(page) - baseline``)."""
    path = find_axe_core()
    if path is None:
        raise RuntimeError(
            f"axe-core not found: nox -s tests unpacks it (npm pack axe-core@{AXE_CORE_VERSION}); "
            "or set AXE_CORE_PATH to its axe.min.js"
        )
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=path)
    settle(page)
    violations = page.evaluate("axe.run(document).then(r => r.violations)")
    return {
        (violation["id"], " ".join(node["target"]))
        for violation in violations
        if violation["impact"] in SERIOUS
        for node in violation["nodes"]
    }


def launch_chromium(playwright):
    """Headless Chromium for browser tests: ``with sync_playwright() as p: launch_chromium(p)``."""
    executable = find_chromium()
    if executable is None:
        raise RuntimeError(
            "No Chromium found for the browser tests. Install Debian's: apt-get install chromium "
            "(nox -s tests does this itself when run as root), or set CHROMIUM_PATH."
        )
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


async def make_datasette(tmp_path, files=(), *, internal="internal.db", root=True, **kwargs):
    """A started Datasette whose internal DB is a real file under ``tmp_path``.

    ``internal=None`` gives Datasette's temporary internal DB. ``root=True`` acts like
    ``--root``: the actor ``{"id": "root"}`` may do everything. Extra keyword arguments go to
    ``Datasette(...)`` (``config=``, ``settings=``, ``immutables=`` ...).
    """
    internal_path = None if internal is None else str(tmp_path / internal)
    datasette = Datasette([str(f) for f in files], internal=internal_path, **kwargs)
    datasette.root_enabled = root
    await datasette.invoke_startup()
    return datasette


@contextlib.contextmanager
def only_plugins(*names):
    """Within the block, only core and the named installed plugins are registered in-process.

    Build the Datasette inside the block: actions and events are collected at startup.
    """
    keep = {CORE, *names}
    removed = [
        (pm.get_name(plugin), plugin)
        for plugin, dist in pm.list_plugin_distinfo()
        if dist.metadata["name"] not in keep
    ]
    for name, _ in removed:
        pm.unregister(name=name)
    try:
        yield
    finally:
        for name, plugin in removed:
            pm.register(plugin, name=name)


def close(datasette):
    """Close a Datasette made by ``make_datasette`` and free its internal file for a restart."""
    datasette.close()
    release_server_lock(datasette)


def cookies_for(datasette, actor_id):
    """Cookies that sign in ``actor_id`` (a string) or an actor dict."""
    actor = actor_id if isinstance(actor_id, dict) else {"id": actor_id}
    return {"ds_actor": datasette.client.actor_cookie(actor)}


def descendants(pid):
    """Process ids below ``pid`` (Linux /proc): children of any of its threads, and theirs."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = list(os.scandir(f"/proc/{current}/task"))
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"{task.path}/children") as children_file:
                    children = [int(child) for child in children_file.read().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            found.extend(children)
            pending.extend(children)
    return found


def alive(pid):
    """Running: not gone, and not a zombie waiting for whoever adopted it to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        # ProcessLookupError: reaped between the open and the read (/proc then answers ESRCH).
        return False


def free_port():
    """A port of 127.0.0.1 free now, for a server started next. It is drawn below Linux's
    ephemeral range (32768 and up), so no outgoing connection takes it meanwhile. Under
    pytest-xdist each worker draws only every Nth port, starting at its own, so two workers
    starting servers at the same moment never pick the same port (a test would then talk to
    the other worker's server)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    while True:
        port = random.randrange(PORTS.start + worker, PORTS.stop, workers)
        if port in _ports_given:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_given.append(port)
        return port


class Server:
    def __init__(self, process, url, internal_path, log_path, secret):
        self.process = process
        self.url = url
        self.internal_path = internal_path
        self.log_path = log_path
        self.secret = secret

    def cookies_for(self, actor_id):
        """Cookies that sign in ``actor_id`` (or an actor dict) on this server."""
        actor = actor_id if isinstance(actor_id, dict) else {"id": actor_id}
        return {"ds_actor": URLSafeSerializer(self.secret, "actor").dumps({"a": actor})}

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self):
        self.stop(signal.SIGKILL)


def start_without_core(plugin, tmp_path):
    """``datasette serve --get /`` in a new process loading ``plugin`` and not core, as a
    ``DATASETTE_LOAD_PLUGINS`` that leaves datasette-internal-db out does: (exit code, stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "datasette", "serve", "--internal", str(tmp_path / "internal.db")]
        + ["--get", "/"],
        env=dict(os.environ, DATASETTE_LOAD_PLUGINS=plugin),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stderr


def start_server(
    tmp_path,
    files=(),
    *,
    internal="internal.db",
    args=(),
    plugins=None,
    config=None,
    env=None,
    timeout=60,
):
    """Start ``datasette serve`` on 127.0.0.1 and wait until it answers.

    ``plugins``: names to load (``DATASETTE_LOAD_PLUGINS``); core is always added.
    ``config``: a dict written to ``datasette.yaml`` (JSON is valid YAML) and passed with ``-c``.
    ``DATASETTE_SECRET`` is set (random unless ``env`` gives one) so ``server.cookies_for`` works
    and a restart with the same ``env`` keeps encrypted secrets readable.
    Raises RuntimeError with the server's output if it exits or does not answer in time.
    """
    port = free_port()
    internal_path = None if internal is None else str(tmp_path / internal)
    command = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        *map(str, files),
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
    ]
    if internal_path:
        command += ["--internal", internal_path]
    if config is not None:
        config_path = tmp_path / f"datasette-{port}.yaml"
        config_path.write_text(json.dumps(config))
        command += ["-c", str(config_path)]
    command += list(args)
    environment = dict(os.environ, **(env or {}))
    environment.setdefault("DATASETTE_SECRET", secrets.token_hex(16))
    if plugins is not None:
        environment["DATASETTE_LOAD_PLUGINS"] = ",".join(dict.fromkeys([CORE, *plugins]))
    log_path = tmp_path / f"server-{port}.log"
    log = open(log_path, "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    server = Server(
        process,
        f"http://127.0.0.1:{port}",
        internal_path,
        log_path,
        environment["DATASETTE_SECRET"],
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"datasette serve exited with {process.returncode}:\n{server.log()}")
        try:
            httpx.get(server.url + "/-/versions.json", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"datasette serve did not answer in {timeout}s:\n{server.log()}")


@contextlib.contextmanager
def s3_server(folder, bucket, timeout=120):
    """moto's S3 server (``moto[server]``, in core's ``test`` extra) on 127.0.0.1 with one
    bucket; yields its URL, for replicas such as ``s3://BUCKET/path?endpoint=URL``."""
    port = free_port()
    scripts = os.path.dirname(sys.executable)
    with open(os.path.join(folder, "moto.log"), "w") as log:
        process = subprocess.Popen(
            [os.path.join(scripts, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    httpx.put(f"{url}/{bucket}", timeout=10).raise_for_status()
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"moto_server did not start in {timeout} s") from None
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(30)


@contextlib.contextmanager
def serve(tmp_path, files=(), **kwargs):
    """``start_server`` as a context manager that stops the server on exit."""
    server = start_server(tmp_path, files, **kwargs)
    try:
        yield server
    finally:
        server.stop()
