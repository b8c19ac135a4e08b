"""Faults: SIGKILL mid-burst and mid-migration, a full disk, a receiver that hangs.

Every test drives a real ``datasette serve`` over HTTP, kills or starves it, starts it again on
the same internal file and checks that every write the server acknowledged is still there and
that the file passes ``PRAGMA integrity_check``.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from datasette_internal_db.testing import free_port
from reliability_helpers import (
    PLUGINS,
    Receiver,
    client,
    cookie_header,
    create_endpoint,
    create_link,
    integrity,
    make_data_db,
    rows,
    serve_all,
    server_config,
    tracebacks,
)

FAULT_PLUGINS = Path(__file__).parent / "fault_plugins"
BURST_WRITES = 30


class Burst:
    """Writer threads that keep POSTing until the server dies; they keep what it acknowledged."""

    def __init__(self, server, writers):
        self.server = server
        self.writers = writers
        self.acknowledged = {name: [] for name, _ in writers}
        self.failures = []
        self.lock = threading.Lock()
        self.threads = []
        self.stopped = threading.Event()

    def run(self, name, write):
        with client(self.server, timeout=10) as http:
            number = 0
            while not self.stopped.is_set():
                number += 1
                try:
                    result = write(http, f"{name}-{threading.get_ident()}-{number}")
                except httpx.TransportError:
                    return  # the server is gone: nothing more is acknowledged
                except Exception as error:  # a bug in the test itself must show, not vanish
                    result = f"{name}: {error!r}"
                with self.lock:
                    if isinstance(result, str):
                        self.failures.append(result)
                    else:
                        self.acknowledged[name].append(result)

    def __enter__(self):
        for name, write in self.writers:
            thread = threading.Thread(target=self.run, args=(name, write), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def wait_for(self, count, timeout=60):
        """Until every writer kind has ``count`` acknowledged writes: the burst is under way."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.failures or all(len(v) >= count for v in self.acknowledged.values()):
                    return
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.stopped.set()
        for thread in self.threads:
            thread.join(15)


def write_comment(cookies):
    def write(http, text):
        response = http.post(
            "/-/comments/api/threads",
            json={"database": "data", "table": "species", "row": "1", "body": text},
            headers=cookie_header(cookies),
        )
        if response.status_code != 200:
            return f"comment: {response.status_code} {response.text[:200]}"
        thread = response.json()["thread"]
        return thread["comments"][0]["id"], text

    return write


def write_bookmark(cookies, note=""):
    def write(http, text):
        response = http.post(
            "/-/bookmarks/api/bookmarks",
            json={"url": f"/data/species?name={text}", "title": text, "note": note},
            headers=cookie_header(cookies),
        )
        if response.status_code != 201:
            return f"bookmark: {response.status_code} {response.text[:200]}"
        return response.json()["bookmark"]["id"], text

    return write


def restart(tmp_path, data_db, old_server, **kwargs):
    return serve_all(tmp_path, data_db, env={"DATASETTE_SECRET": old_server.secret}, **kwargs)


def stored_comments(path):
    return dict(rows(path, "select id, body from datasette_internal_comments_comments"))


def stored_bookmarks(path):
    return dict(rows(path, "select id, title from datasette_internal_bookmarks_bookmarks"))


def test_sigkill_during_comment_and_bookmark_burst_loses_no_acknowledged_write(tmp_path):
    data_db = make_data_db(tmp_path / "data.db")
    server = serve_all(tmp_path, data_db)
    alice, bob = server.cookies_for("alice"), server.cookies_for("bob")
    writers = [("comments", write_comment(alice)), ("comments", write_comment(bob))] * 3 + [
        ("bookmarks", write_bookmark(alice)),
        ("bookmarks", write_bookmark(bob)),
    ] * 3
    with Burst(server, writers) as burst:
        burst.wait_for(BURST_WRITES)
        server.kill()
    assert burst.failures == []
    assert len(burst.acknowledged["comments"]) >= BURST_WRITES
    assert len(burst.acknowledged["bookmarks"]) >= BURST_WRITES
    assert integrity(server.internal_path) == "ok"
    second = restart(tmp_path, data_db, server)
    try:
        comments = stored_comments(second.internal_path)
        bookmarks = stored_bookmarks(second.internal_path)
        assert [c for c in burst.acknowledged["comments"] if comments.get(c[0]) != c[1]] == []
        assert [b for b in burst.acknowledged["bookmarks"] if bookmarks.get(b[0]) != b[1]] == []
        with client(second) as http:
            _, body = max(burst.acknowledged["comments"])
            response = http.get("/-/comments/api/activity", headers=cookie_header(alice))
            assert response.status_code == 200
            assert body in response.text  # the newest acknowledged comment, through the API
        assert integrity(second.internal_path) == "ok"
        assert tracebacks(second) == ""
    finally:
        second.stop()


def delivered_comment_ids(receiver):
    return {
        payload["data"]["comment_id"]
        for payload in receiver.payloads()
        if payload["type"] == "comment-added"
    }


def test_sigkill_during_webhook_delivery_burst_delivers_every_event_at_least_once(tmp_path):
    data_db = make_data_db(tmp_path / "data.db")
    config = server_config(loopback_webhooks=True)
    # A slow receiver keeps deliveries in flight and queued when the kill comes.
    with Receiver(delay=0.3) as receiver:
        server = serve_all(tmp_path, data_db, config=config)
        root = server.cookies_for("root")
        with client(server) as http:
            create_endpoint(http, root, receiver.url, event_types=["comment-added"])
        alice = server.cookies_for("alice")
        with Burst(server, [("comments", write_comment(alice))] * 8) as burst:
            burst.wait_for(BURST_WRITES)
            server.kill()
        acknowledged = {comment_id for comment_id, _ in burst.acknowledged["comments"]}
        assert len(acknowledged) >= BURST_WRITES
        delivered_before_kill = len(receiver.received)
        second = restart(tmp_path, data_db, server, config=config)
        try:
            assert receiver.wait_until(
                lambda _: acknowledged <= delivered_comment_ids(receiver), timeout=60
            ), sorted(acknowledged - delivered_comment_ids(receiver))[:20]
            unfinished = (
                "select count(*) from datasette_internal_webhooks_deliveries"
                " where status != 'succeeded'"
            )
            deadline = time.monotonic() + 30
            while rows(second.internal_path, unfinished)[0][0] and time.monotonic() < deadline:
                time.sleep(0.1)
            assert rows(second.internal_path, unfinished) == [(0,)]
            assert integrity(second.internal_path) == "ok"
            assert tracebacks(second) == ""
        finally:
            second.stop()
    ids = [item["id"] for item in receiver.received]
    print(
        f"webhook burst: {len(acknowledged)} acknowledged comments, {delivered_before_kill} "
        f"requests before the kill, {len(ids)} in all, {len(ids) - len(set(ids))} duplicates"
    )


def test_sigkill_during_a_migration_leaves_the_step_unapplied_then_it_completes(tmp_path):
    data_db = make_data_db(tmp_path / "data.db")
    plugins_dir = tmp_path / "plugins"
    plugins_dir.mkdir()
    shutil.copy(FAULT_PLUGINS / "slow_migration.py", plugins_dir)
    internal = tmp_path / "internal.db"
    marker = tmp_path / "migrating"
    port = free_port()
    log = open(tmp_path / "killed.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(data_db), "--internal", str(internal)]
        + ["--plugins-dir", str(plugins_dir), "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(
            os.environ,
            DATASETTE_LOAD_PLUGINS=",".join(["datasette-internal-db", *PLUGINS]),
            SLOW_MIGRATION_MARKER=str(marker),
            SLOW_MIGRATION_SECONDS="60",
        ),
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "killed.log").read_text()
            time.sleep(0.05)
        assert marker.exists()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    assert integrity(internal) == "ok"
    applied = rows(
        internal, "select name from _sqlite_migrations where migration_set = 'reliability-slow'"
    )
    assert applied == [("m001_items",)]
    assert rows(internal, "select count(*) from reliability_slow_items") == [(0,)]

    server = serve_all(tmp_path, data_db, extra_args=["--plugins-dir", str(plugins_dir)])
    try:
        assert rows(internal, "select count(*), count(distinct n) from reliability_slow_items") == [
            (2000, 2000)
        ]
        with client(server) as http:
            status = http.get("/-/internal.json", headers=cookie_header(server.cookies_for("root")))
        pending = {entry["set"]: entry["pending"] for entry in status.json()["migrations"]}
        assert all(steps == [] for steps in pending.values()), pending
        assert integrity(internal) == "ok"
        assert tracebacks(server) == ""
    finally:
        server.stop()


def limit_disk(http, root, extra_pages):
    response = http.post(
        "/-/reliability/max-pages",
        json={"extra_pages": extra_pages},
        headers=cookie_header(root),
    )
    assert response.status_code == 200, response.text


def fill_disk(server, writes, prefix="fill"):
    """Write comments and bookmarks until SQLite runs out of pages; the responses, in order."""
    alice = server.cookies_for("alice")
    comment, bookmark = write_comment(alice), write_bookmark(alice, note="x" * 2000)
    results = []
    with client(server) as http:
        for number in range(writes):
            if number % 2:
                results.append(comment(http, f"{prefix}-{number}-" + "x" * 2000))
            else:
                results.append(bookmark(http, f"{prefix}-{number}"))
    return results


def full_disk_server(tmp_path):
    data_db = make_data_db(tmp_path / "data.db")
    plugins_dir = tmp_path / "plugins"
    plugins_dir.mkdir()
    shutil.copy(FAULT_PLUGINS / "disk_limit.py", plugins_dir)
    server = serve_all(tmp_path, data_db, extra_args=["--plugins-dir", str(plugins_dir)])
    return data_db, server


def test_full_disk_corrupts_nothing_and_writes_resume_when_space_returns(tmp_path):
    data_db, server = full_disk_server(tmp_path)
    root = server.cookies_for("root")
    try:
        with client(server) as http:
            limit_disk(http, root, extra_pages=10)
        results = fill_disk(server, 30)
        acknowledged = [r for r in results if not isinstance(r, str)]
        refused = [r for r in results if isinstance(r, str)]
        assert acknowledged and refused, "the limit must be reached and something stored before"
        # A clear answer: 507 with the JSON error shape (core's handle_exception).
        assert [r for r in refused if r.split()[1] != "507" or '"ok": false' not in r] == []
        assert integrity(server.internal_path) == "ok"
        with client(server) as http:
            limit_disk(http, root, extra_pages=None)
        after = fill_disk(server, 6, prefix="after")
        assert [r for r in after if isinstance(r, str)] == []
        comments = stored_comments(server.internal_path)
        bookmarks = stored_bookmarks(server.internal_path)
        for record_id, text in acknowledged + after:
            assert comments.get(record_id) == text or bookmarks.get(record_id) == text
        assert integrity(server.internal_path) == "ok"
    finally:
        server.stop()
    second = restart(tmp_path, data_db, server)
    second.stop()
    assert integrity(second.internal_path) == "ok"


def test_a_hanging_receiver_is_bounded_by_the_timeout_and_blocks_nobody(tmp_path):
    data_db = make_data_db(tmp_path / "data.db")
    config = server_config(loopback_webhooks=True, timeout_seconds=1)
    with Receiver(delay=120) as hanging, Receiver() as healthy:
        server = serve_all(tmp_path, data_db, config=config)
        root, alice = server.cookies_for("root"), server.cookies_for("alice")
        try:
            with client(server) as http:
                stuck = create_endpoint(http, root, hanging.url, event_types=["comment-added"])
                create_endpoint(http, root, healthy.url, event_types=["comment-added"])
                started = time.monotonic()
                write = write_comment(alice)
                for number in range(20):
                    assert not isinstance(write(http, f"hang-{number}"), str)
                assert time.monotonic() - started < 10
                assert healthy.wait_until(lambda payloads: len(payloads) >= 20, timeout=15)
                answered = time.monotonic()
                assert http.get("/-/versions.json").status_code == 200
                assert (
                    time.monotonic() - answered < 3
                )  # the receiver hangs for 120 s: this is not waiting on it

                def timed_out_attempts():
                    response = http.get(
                        f"/-/webhooks/api/endpoints/{stuck['id']}/attempts",
                        headers=cookie_header(root),
                    )
                    return [
                        a for a in response.json()["attempts"] if "Timed out" in (a["error"] or "")
                    ]

                deadline = time.monotonic() + 15
                while not timed_out_attempts() and time.monotonic() < deadline:
                    time.sleep(0.2)
                attempts = timed_out_attempts()
                assert attempts, "the hanging receiver's attempts must end as timeouts"
                assert all(a["latency_ms"] is None or a["latency_ms"] < 5000 for a in attempts)
        finally:
            stopping = time.monotonic()
            server.stop()
            stop_seconds = time.monotonic() - stopping
        assert server.process.returncode is not None
        assert stop_seconds < 10
        assert tracebacks(server) == ""


def stored_visits(path, code):
    return rows(
        path, "select visits from datasette_internal_bookmarks_links where code = ?", [code]
    )[0][0]


def test_sigkill_loses_at_most_the_last_flush_interval_of_short_link_visits(tmp_path):
    data_db = make_data_db(tmp_path / "data.db")
    server = serve_all(tmp_path, data_db)
    alice = server.cookies_for("alice")
    with client(server) as http:
        code = create_link(http, alice, "/data/species")["code"]

        def follow(times):
            for _ in range(times):
                assert http.get(f"/-/l/{code}", headers=cookie_header(alice)).status_code == 302

        follow(30)
        deadline = time.monotonic() + 10
        while stored_visits(server.internal_path, code) < 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stored_visits(server.internal_path, code) == 30
        follow(20)
        server.kill()
    second = restart(tmp_path, data_db, server)
    try:
        kept = stored_visits(second.internal_path, code)
        assert 30 <= kept <= 50
        print(f"short-link visits: 50 counted, {kept} stored after SIGKILL, {50 - kept} lost")
    finally:
        second.stop()
    assert integrity(second.internal_path) == "ok"


def test_backup_while_writing_then_restore_keeps_everything_acknowledged_before_it(tmp_path):
    data_db = make_data_db(tmp_path / "data.db")
    server = serve_all(tmp_path, data_db)
    alice = server.cookies_for("alice")
    backup = tmp_path / "backup.db"
    with Burst(
        server, [("comments", write_comment(alice)), ("bookmarks", write_bookmark(alice))]
    ) as burst:
        burst.wait_for(10)
        with burst.lock:
            before_backup = {name: list(items) for name, items in burst.acknowledged.items()}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "datasette",
                "internal",
                "backup",
                server.internal_path,
                str(backup),
            ],
            capture_output=True,
            text=True,
            env=dict(
                os.environ, DATASETTE_LOAD_PLUGINS=",".join(["datasette-internal-db", *PLUGINS])
            ),
        )
        assert result.returncode == 0, result.stderr
        burst.wait_for(20)
        server.stop()
    assert integrity(backup) == "ok"
    # Restore: the server is stopped; copy the backup over the internal file and its WAL.
    for suffix in ("", "-wal", "-shm"):
        Path(server.internal_path + suffix).unlink(missing_ok=True)
    shutil.copy(backup, server.internal_path)
    restored = restart(tmp_path, data_db, server)
    try:
        comments = stored_comments(restored.internal_path)
        bookmarks = stored_bookmarks(restored.internal_path)
        assert [c for c in before_backup["comments"] if comments.get(c[0]) != c[1]] == []
        assert [b for b in before_backup["bookmarks"] if bookmarks.get(b[0]) != b[1]] == []
        with client(restored) as http:
            response = http.get("/-/bookmarks/api/bookmarks", headers=cookie_header(alice))
            assert response.status_code == 200
        assert integrity(restored.internal_path) == "ok"
        assert tracebacks(restored) == ""
    finally:
        restored.stop()
