"""A real `datasette serve` killed with SIGKILL in the middle of a burst of writes, restarted:
every acknowledged write's event is delivered at least once."""

import json
import sqlite3
import threading
import time

import httpx
from datasette_internal_db.testing import start_server

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlYw=="
ROWS = 400


def test_sigkill_mid_burst_loses_no_acknowledged_event(tmp_path, receiver):
    data_db = tmp_path / "items.db"
    conn = sqlite3.connect(data_db)
    conn.execute("create table items (id integer primary key, n integer)")
    conn.executemany("insert into items (id, n) values (?, 0)", [(i,) for i in range(1, ROWS + 1)])
    conn.commit()
    conn.close()
    receiver.secrets = [SECRET]
    slow = threading.Event()
    slow.set()
    # Slow answers before the kill leave a backlog, and requests in flight when it lands.
    receiver.respond = lambda number: (200, {}, 1.0 if slow.is_set() else 0)
    config = {
        "plugins": {
            "datasette-internal-webhooks": {
                "allow_networks": ["127.0.0.1/32"],
                "poll_interval": 0.1,
                "concurrency_per_endpoint": 2,
                "endpoints": [
                    {
                        "name": "sink",
                        "url": receiver.url,
                        "event_types": ["update-row"],
                        "secret": SECRET,
                    }
                ],
            }
        }
    }
    env = {"DATASETTE_SECRET": "crash-test-secret"}
    options = dict(plugins=["datasette-internal-webhooks"], config=config, env=env, args=["--root"])
    server = start_server(tmp_path, [data_db], **options)
    cookies = server.cookies_for("root")
    acknowledged = []
    lock = threading.Lock()

    def writer(ids):
        with httpx.Client(base_url=server.url, cookies=cookies, timeout=5) as client:
            for item_id in ids:
                try:
                    response = client.post(
                        f"/items/items/{item_id}/-/update", json={"update": {"n": 1}}
                    )
                except httpx.TransportError:
                    return
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(item_id)

    threads = [
        threading.Thread(target=writer, args=(range(start, ROWS + 1, 4),)) for start in (1, 2, 3, 4)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 80 and time.monotonic() < deadline:
        time.sleep(0.005)
    server.kill()
    for thread in threads:
        thread.join()
    assert 80 <= len(acknowledged) < ROWS
    delivered_before_restart = len(receiver.received)
    assert delivered_before_restart < len(acknowledged), "the kill should leave a backlog"

    slow.clear()
    # A kill during a write to items.db can leave a hot rollback journal, and Datasette checks
    # served files through read-only connections, which cannot roll it back ("attempt to write
    # a readonly database"): open the file read-write once, as an operator would after a crash.
    sqlite3.connect(data_db).execute("pragma quick_check").fetchall()
    server = start_server(tmp_path, [data_db], **options)
    try:
        deadline = time.monotonic() + 60
        missing = set(acknowledged)
        while missing and time.monotonic() < deadline:
            delivered = {
                int(json.loads(r["body"])["data"]["pks"][0]) for r in list(receiver.received)
            }
            missing = set(acknowledged) - delivered
            time.sleep(0.1)
        assert not missing, f"{len(missing)} acknowledged updates were never delivered"
        assert all(r["verified"] for r in receiver.received)
    finally:
        server.stop()
