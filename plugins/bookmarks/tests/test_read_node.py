"""On a read node (replication role ``read``) the internal DB is the primary's replica and
refuses writes: short links still redirect there, but no visit is counted or flushed, and a
link changed or deleted on the primary is followed the new way once the replica has it."""

import time

import httpx
import pytest
from conftest import create_data_db
from datasette_internal_db.testing import serve

PLUGINS = ["datasette-internal-bookmarks"]
FLUSH_ERROR = "Could not write short-link visit counts"


@pytest.fixture(autouse=True)
def no_custom_ca_bundle(monkeypatch):
    # Litestream's S3 client fails to start with AWS_CA_BUNDLE set; the replica is a folder.
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)


def replication(replica, **options):
    return {"plugins": {"datasette-internal-db": {"replication": {"replica": replica, **options}}}}


def task_names(server):
    answer = httpx.get(server.url + "/-/tasks.json", cookies=server.cookies_for("root"))
    assert answer.status_code == 200, answer.text
    return [task["name"] for task in answer.json()["tasks"]]


def wait_for(observe, expected, seconds=30):
    deadline = time.monotonic() + seconds
    while (seen := observe()) != expected:
        assert time.monotonic() < deadline, f"still {seen!r}, not {expected!r}"
        time.sleep(0.2)


def test_a_read_node_counts_no_visits_and_follows_the_primarys_changes(tmp_path):
    replica = f"file://{tmp_path / 'replica'}"
    env = {"DATASETTE_SECRET": "same-on-every-node"}
    primary_folder, node_folder = tmp_path / "primary", tmp_path / "node"
    primary_folder.mkdir()
    node_folder.mkdir()
    with serve(
        primary_folder,
        [create_data_db(primary_folder / "data.db")],
        plugins=PLUGINS,
        config=replication(replica),
        env=env,
        args=["--root"],
        timeout=120,
    ) as primary:
        created = httpx.post(
            primary.url + "/-/l/api/links",
            cookies=primary.cookies_for("alice"),
            json={"target": "/data/places"},
        )
        assert created.status_code == 201, created.text
        path = created.json()["link"]["path"]
        with serve(
            node_folder,
            [create_data_db(node_folder / "data.db")],
            plugins=PLUGINS,
            config=replication(replica, role="read", primary_url=primary.url),
            env=dict(env, LITESTREAM_REPLICA_URL=replica),
            args=["--root"],
            timeout=120,
        ) as node:
            wait_for(lambda: httpx.get(node.url + path).status_code, 302)
            for _ in range(3):
                assert httpx.get(node.url + path).status_code == 302
            # The primary runs the flush task; the read node does not.
            assert "datasette-internal-bookmarks-visits" in task_names(primary)
            assert "datasette-internal-bookmarks-visits" not in task_names(node)
            # The node cached the link: the primary's edit and delete still reach it.
            api = primary.url + "/-/l/api/links/" + path.rsplit("/", 1)[1]
            alice = primary.cookies_for("alice")
            edited = httpx.post(api, cookies=alice, json={"target": "/data/places?country=fr"})
            assert edited.status_code == 200, edited.text
            wait_for(
                lambda: httpx.get(node.url + path).headers.get("location"),
                "/data/places?country=fr",
            )
            assert httpx.delete(api, cookies=alice).status_code == 200
            wait_for(lambda: httpx.get(node.url + path).status_code, 404)
        # Leaving the block stopped the node with SIGTERM: its shutdown hook flushed whatever
        # it had counted, which on a read node's replica would have been refused and logged.
        log = node.log()
    assert "Application shutdown complete" in log
    assert FLUSH_ERROR not in log
    assert "ReadOnlyNode" not in log and "Traceback" not in log
