"""A read node with every plugin installed: each plugin's pages come from the primary's
replica, writes go to the primary (307), webhook delivery runs only on the primary."""

import os
import time

import httpx
import pytest
from datasette_internal_db.testing import start_server
from reliability_helpers import (
    client,
    cookie_header,
    create_comment_thread,
    make_data_db,
    tracebacks,
)

PAGES = ["/-/comments", "/-/bookmarks", "/-/webhooks", "/-/internal"]


@pytest.fixture(autouse=True)
def no_custom_ca_bundle(monkeypatch):
    # Litestream's S3 client fails to start with AWS_CA_BUNDLE set (FIELD-NOTES §9).
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)


def replication(replica, **options):
    return {"plugins": {"datasette-internal-db": {"replication": {"replica": replica, **options}}}}


def data_db(folder):
    folder.mkdir()
    return make_data_db(folder / "data.db")


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
        with client(primary) as http:
            create_comment_thread(http, root, "from the primary")
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
            answer = httpx.get(f"{node.url}{page}", headers=cookie_header(root))
            assert answer.status_code == 200, (page, answer.text[:300])
        threads = f"{node.url}/-/comments/api/threads?database=data&table=species&row=1"
        deadline = time.monotonic() + 30
        while "from the primary" not in httpx.get(threads, headers=cookie_header(root)).text:
            assert time.monotonic() < deadline, "the primary's comment never reached the node"
            time.sleep(0.2)
        refused = httpx.post(
            f"{node.url}/-/comments/api/threads",
            json={"database": "data", "table": "species", "row": "1", "body": "from the node"},
            headers=cookie_header(root),
        )
        assert refused.status_code == 307
        assert refused.headers["location"] == f"{primary.url}/-/comments/api/threads"
        tasks = httpx.get(f"{node.url}/-/tasks.json", headers=cookie_header(root)).json()["tasks"]
        assert not [task for task in tasks if "webhooks" in task["name"]]
        assert tracebacks(node) == ""
        assert not os.path.exists(f"{node.internal_path}-webhooks-outbox")
    finally:
        if node is not None:
            node.stop()
        primary.stop()
