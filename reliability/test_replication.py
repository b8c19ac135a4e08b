"""A read node with every plugin installed: each plugin's pages come from the primary's
replica, writes go to the primary (307), webhook delivery runs only on the primary."""

import os
import sqlite3
import time

import httpx
import pytest
from datasette_internal_db.testing import start_server

PAGES = ["/-/comments", "/-/bookmarks", "/-/webhooks", "/-/internal"]


@pytest.fixture(autouse=True)
def no_custom_ca_bundle(monkeypatch):
    # Litestream's S3 client fails to start with AWS_CA_BUNDLE set (FIELD-NOTES §9).
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)


def replication(replica, **options):
    return {"plugins": {"datasette-internal-db": {"replication": {"replica": replica, **options}}}}


def data_db(folder):
    folder.mkdir()
    path = folder / "data.db"
    conn = sqlite3.connect(path)
    conn.execute("create table items (id integer primary key, name text)")
    conn.execute("insert into items (name) values ('otter')")
    conn.commit()
    conn.close()
    return path


def test_read_node_with_every_plugin(tmp_path):
    replica = f"file://{tmp_path / 'replica'}"
    env = {"DATASETTE_SECRET": "same-on-every-node"}
    primary = start_server(
        tmp_path,
        [data_db(tmp_path / "p")],
        internal="primary.db",
        config=replication(replica),
        args=["--root"],
        env=env,
        timeout=120,
    )
    node = None
    try:
        root = primary.cookies_for("root")
        created = httpx.post(
            f"{primary.url}/-/comments/api/threads",
            json={"database": "data", "table": "items", "row": [1], "body": "from the primary"},
            cookies=root,
        )
        assert created.status_code in (200, 201), created.text
        node_folder = tmp_path / "node"
        node = start_server(
            node_folder,
            [data_db(node_folder)],
            internal="internal.db",
            config=replication(replica, role="read", primary_url=primary.url),
            args=["--root"],
            env=dict(env, LITESTREAM_REPLICA_URL=replica),
            timeout=120,
        )
        for page in PAGES:
            answer = httpx.get(f"{node.url}{page}", cookies=root)
            assert answer.status_code == 200, (page, answer.text[:300])
        threads = f"{node.url}/-/comments/api/threads?database=data&table=items&row=1"
        deadline = time.monotonic() + 30
        while "from the primary" not in httpx.get(threads, cookies=root).text:
            assert time.monotonic() < deadline, "the primary's comment never reached the node"
            time.sleep(0.2)
        refused = httpx.post(
            f"{node.url}/-/comments/api/threads",
            json={"database": "data", "table": "items", "row": [1], "body": "from the node"},
            cookies=root,
        )
        assert refused.status_code == 307
        assert refused.headers["location"] == f"{primary.url}/-/comments/api/threads"
        tasks = httpx.get(f"{node.url}/-/tasks.json", cookies=root).json()["tasks"]
        assert not [task for task in tasks if "webhooks" in task["name"]]
        assert "Traceback" not in node.log()
        assert not os.path.exists(f"{node.internal_path}-webhooks-outbox")
    finally:
        if node is not None:
            node.stop()
        primary.stop()
