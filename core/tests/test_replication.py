"""Replication with the real litestream binary: file and S3 (moto on 127.0.0.1) replicas,
restore on boot, the stale-primary refusal, status and lag, the supervised process."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from datasette.app import Datasette
from datasette.cli import cli
from datasette.utils import StartupError
from datasette_internal_db import Cache, replication, testing
from datasette_internal_db.database import release_server_lock
from datasette_internal_db.testing import alive, descendants, only_plugins, start_server

cache = Cache("test-replication")
REPO = Path(__file__).resolve().parents[2]
# FULL, RESTART and TRUNCATE wait for every reader to finish: Litestream holds a read
# transaction nearly all the time, so each would block for the whole busy timeout (5 s).
BLOCKING_CHECKPOINT = re.compile(
    r"wal_checkpoint\W{0,4}(full|restart|truncate)|SQLITE_CHECKPOINT_(FULL|RESTART|TRUNCATE)",
    re.IGNORECASE,
)


def replication_config(replica, **options):
    return {"plugins": {"datasette-internal-db": {"replication": {"replica": replica, **options}}}}


@pytest.fixture(autouse=True)
def no_custom_ca_bundle(monkeypatch):
    # Litestream's S3 client fails to start with AWS_CA_BUNDLE set (FIELD-NOTES §9); the
    # replicas here are a folder and a plain-HTTP server on 127.0.0.1.
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)


@pytest.fixture
def file_replica(tmp_path):
    return f"file://{tmp_path / 'replica'}"


async def start(path, config):
    datasette = Datasette([], internal=str(path), config=config)
    await datasette.invoke_startup()
    return datasette


async def stop(datasette):
    """A clean stop: shutdown hooks (Litestream's final sync), then the files are free."""
    await datasette.invoke_shutdown()
    release_server_lock(datasette)


async def write_keys(datasette, *keys):
    for key in keys:
        await cache.set(datasette, key, key)


def keys_in(path):
    conn = sqlite3.connect(path)
    try:
        return {
            row[0]
            for row in conn.execute(
                "select key from _datasette_internal_cache where namespace = ?", [cache.namespace]
            )
        }
    finally:
        conn.close()


def restored_copy(tmp_path, replica, name="check.db"):
    """What a restore of the replica returns now."""
    output = tmp_path / name
    subprocess.run(
        [replication.litestream_binary(), "restore", "-o", str(output), replica],
        check=True,
        capture_output=True,
    )
    return keys_in(output)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({}, "replica is required"),
        ({"replica": "http://example.com/x"}, "only file:// and s3://"),
        ({"replica": "file://relative/folder"}, "file:///absolute/folder"),
        ({"replica": "s3:///no-bucket"}, "s3://bucket/path"),
        ({"replica": "file:///r", "sync_interval": "soon"}, "sync_interval"),
        ({"replica": "file:///r", "role": "standby"}, "role"),
        ({"replica": "file:///r", "primary_url": "ftp://x"}, "primary_url"),
        ({"replica": "file:///r", "secret_access_key": 42}, "secret_access_key"),
        ({"replica": "file:///r", "replcia": "typo"}, "unknown key(s) replcia"),
        ("file:///r", "must be a mapping"),
    ],
)
def test_config_errors_name_the_key(raw, message):
    with pytest.raises(replication.ReplicationError, match=re.escape(message)):
        replication.parse_config(raw)


async def test_replication_needs_an_internal_file(file_replica):
    with only_plugins():
        datasette = Datasette([], config=replication_config(file_replica))
        with pytest.raises(StartupError, match="--internal PATH"):
            await datasette.invoke_startup()
        datasette.close()


async def test_file_replica_restore_on_boot_and_status(tmp_path, file_replica):
    with only_plugins():
        config = replication_config(file_replica)
        primary = await start(tmp_path / "a" / "internal.db", config)
        await write_keys(primary, "one", "two")
        await stop(primary)

        status = json.loads(
            CliRunner()
            .invoke(cli, ["internal", "status", str(tmp_path / "a" / "internal.db"), "--json"])
            .output
        )["replication"]
        assert status["replica"] == file_replica
        assert status["litestream"] == {"running": False}
        assert status["replica_txid"] == status["local_txid"] > 0
        assert status["transactions_behind"] == 0 and status["lag_seconds"] == 0

        # A new machine: the file is missing, so it is restored before Datasette opens it.
        fresh = tmp_path / "b" / "internal.db"
        fresh.parent.mkdir()
        node = await start(fresh, config)
        assert keys_in(fresh) >= {"one", "two"}
        assert (await cache.get(node, "two")) == "two"
        await stop(node)


async def test_status_shows_lag_while_the_replica_is_behind(tmp_path, file_replica):
    path = tmp_path / "internal.db"
    with only_plugins():
        # Litestream turns writes into local LTX files within a second, but uploads them only
        # every hour here. (Its first snapshot, right after start, may carry the first writes.)
        primary = await start(path, replication_config(file_replica, sync_interval="1h"))
        deadline = time.monotonic() + 30
        for attempt in range(1000):
            await write_keys(primary, f"late-{attempt}")
            time.sleep(0.3)
            info = replication.status(str(path))
            if info["transactions_behind"] or time.monotonic() > deadline:
                break
        text = CliRunner().invoke(cli, ["internal", "status", str(path)]).output
        await stop(primary)
    assert info["litestream"]["running"] is True, info
    assert info["transactions_behind"] >= 1 and info["lag_seconds"] >= 0, info
    assert "not replicated yet" in text and "replicating (litestream" in text
    # The final sync of a clean stop carried everything.
    assert replication.status(str(path))["transactions_behind"] == 0
    assert f"late-{attempt}" in restored_copy(tmp_path, file_replica)


async def failover(tmp_path, config, old_key, new_key):
    """The old primary writes and stops; another machine restores the replica and takes
    writes. Returns the old primary's file."""
    old_path = tmp_path / "old" / "internal.db"
    new_path = tmp_path / "new" / "internal.db"
    new_path.parent.mkdir()
    old = await start(old_path, config)
    await write_keys(old, old_key)
    await stop(old)
    new = await start(new_path, config)
    await write_keys(new, new_key)
    await stop(new)
    return old_path


async def test_old_primary_is_refused_after_a_failover(tmp_path, file_replica):
    """The split brain of issue 16: the old primary restarted after a failover must not
    become the writer again (Litestream alone would upload its history over the new one)."""
    config = replication_config(file_replica)
    with only_plugins():
        old_path = await failover(
            tmp_path, config, "before-failover", "acknowledged-by-new-primary"
        )
        with pytest.raises(StartupError) as refused:
            await start(old_path, config)
        message = str(refused.value)
        assert f"{old_path} is behind it" in message
        assert f"move {old_path} aside" in message
        assert replication.STALE_OVERRIDE in message
        assert "acknowledged-by-new-primary" in restored_copy(tmp_path, file_replica, "1.db")

        # The fix the message names: moved aside, the file is restored with the new rows.
        old_path.rename(old_path.with_name("stale.db"))
        os.rename(replication.meta_dir(old_path), str(old_path.parent / "stale-litestream"))
        again = await start(old_path, config)
        assert keys_in(old_path) >= {"before-failover", "acknowledged-by-new-primary"}
        await stop(again)


async def test_a_diverged_file_is_refused_even_when_not_behind(tmp_path, file_replica):
    """The old primary may hold as many transactions as the replica, or more (written after
    its last upload): the writer epoch read from the replica through litestream-vfs tells."""
    config = replication_config(file_replica)
    with only_plugins():
        old_path = await failover(tmp_path, config, "old-primary", "new-primary")
    # The old primary's position: as if it had made transactions it never uploaded.
    level0 = Path(replication.meta_dir(old_path)) / "ltx" / "0"
    newest = max(level0.iterdir())
    newest.rename(level0 / "00000000000000f0-00000000000000f0.ltx")
    with only_plugins(), pytest.raises(StartupError, match="has diverged from it"):
        await start(old_path, config)

    with only_plugins():
        # The unsafe override starts it anyway, and its history becomes the replica's.
        forced = await start(old_path, replication_config(file_replica, unsafe_start_stale=True))
        await write_keys(forced, "old-primary-forced")
        await stop(forced)
    assert "old-primary-forced" in restored_copy(tmp_path, file_replica)


def litestream_pids(parent):
    """Litestream processes below ``parent``."""
    return [
        pid
        for pid in descendants(parent)
        if Path(f"/proc/{pid}/comm").read_text().strip() == "litestream"
    ]


async def test_a_litestream_that_dies_is_restarted(tmp_path, file_replica, monkeypatch):
    monkeypatch.setattr(replication.Litestream, "RESTART_DELAYS", (0.1,))
    with only_plugins():
        primary = await start(tmp_path / "internal.db", replication_config(file_replica))
        supervisor = replication.supervisor_of(primary)
        first = supervisor.process.pid
        (litestream,) = litestream_pids(os.getpid())
        os.kill(litestream, signal.SIGKILL)
        deadline = time.monotonic() + 30
        socket_file = replication.socket_path(supervisor.path)
        while not (
            supervisor.running()
            and supervisor.process.pid != first
            and replication.daemon_status(socket_file, supervisor.config).get("status")
            == "replicating"
        ):
            assert time.monotonic() < deadline, "litestream was not restarted"
            time.sleep(0.05)
        assert supervisor.restarts == 1 and supervisor.last_exit == 128 + signal.SIGKILL
        await write_keys(primary, "after-restart")
        await stop(primary)
    assert not supervisor.running()
    assert "after-restart" in restored_copy(tmp_path, file_replica)


WRITER_PLUGIN = """
from datasette import hookimpl
from datasette.utils.asgi import Response
from sqlite_utils import Migrations
from datasette_internal_db import get_internal_db

migrations = Migrations("rpo-probe")


@migrations()
def m001_rows(db):
    db["rpo_probe_rows"].create({"id": int}, pk="id")


@hookimpl
def register_internal_migrations(datasette):
    return migrations


async def write(request, datasette):
    row = int(request.args["id"])
    await get_internal_db(datasette).execute_write(
        "insert into rpo_probe_rows (id) values (?)", [row]
    )
    return Response.text("ok")


@hookimpl
def register_routes():
    return [(r"^/-/rpo-write$", write)]
"""


def test_server_killed_litestream_still_uploads_every_acknowledged_write(
    tmp_path, file_replica, plugins_dir
):
    """SIGKILL of the server alone: Litestream gets SIGTERM from the kernel (parent death
    signal) and makes its final sync, so no acknowledged write is lost (RPO 0)."""
    server = start_server(
        tmp_path,
        internal="internal.db",
        config=replication_config(file_replica),
        args=["--plugins-dir", plugins_dir("rpo_probe", WRITER_PLUGIN)],
        timeout=120,
    )
    acknowledged = []
    try:
        with httpx.Client(base_url=server.url) as client:
            for row in range(100):
                if client.get("/-/rpo-write", params={"id": row}).status_code == 200:
                    acknowledged.append(row)
        litestream = litestream_pids(server.process.pid)
        assert len(litestream) == 1
    finally:
        server.kill()
    deadline = time.monotonic() + 30
    while alive(litestream[0]):
        assert time.monotonic() < deadline, "litestream outlived its server"
        time.sleep(0.05)
    output = tmp_path / "restored.db"
    subprocess.run(
        [replication.litestream_binary(), "restore", "-o", str(output), file_replica], check=True
    )
    conn = sqlite3.connect(output)
    stored = {row[0] for row in conn.execute("select id from rpo_probe_rows")}
    conn.close()
    assert stored == set(acknowledged) and len(acknowledged) == 100


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    with testing.s3_server(tmp_path_factory.mktemp("moto"), "replicas") as url:
        yield url


async def test_s3_replica_credentials_from_config_restore_on_boot(tmp_path, s3_server, monkeypatch):
    monkeypatch.setenv("TEST_S3_KEY", "test-key")
    monkeypatch.setenv("TEST_S3_SECRET", "test-secret")
    replica = f"s3://replicas/{tmp_path.name}?endpoint={s3_server}&region=us-east-1"
    config = replication_config(
        replica,
        access_key_id={"$env": "TEST_S3_KEY"},
        secret_access_key={"$env": "TEST_S3_SECRET"},
    )
    first = tmp_path / "a" / "internal.db"
    with only_plugins():
        primary = await start(first, config)
        await write_keys(primary, "in-s3")
        await stop(primary)
        fresh = tmp_path / "b" / "internal.db"
        fresh.parent.mkdir()
        node = await start(fresh, config)
        assert "in-s3" in keys_in(fresh)
        await stop(node)
    # The status command lists the replica with the operator's own credentials.
    monkeypatch.setenv("LITESTREAM_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("LITESTREAM_SECRET_ACCESS_KEY", "test-secret")
    info = replication.status(str(fresh))
    assert info["replica"] == replica
    assert info["replica_txid"] == info["local_txid"] and info["transactions_behind"] == 0


def package_sources():
    """The source of core, every plugin and the example: what runs beside Litestream."""
    folders = [REPO / "core" / "datasette_internal_db"]
    folders += [p for p in (REPO / "plugins").glob("*/datasette_internal_*") if p.is_dir()]
    folders += [p for p in (REPO / "examples").glob("*/*") if (p / "__init__.py").exists()]
    return [path for folder in folders for path in folder.rglob("*.py")]


def test_no_package_issues_a_blocking_checkpoint():
    sources = package_sources()
    assert len(sources) > 20 and any("webhooks" in str(path) for path in sources)
    offenders = [
        f"{path.relative_to(REPO)}: {match.group(0)}"
        for path in sources
        for match in BLOCKING_CHECKPOINT.finditer(path.read_text())
    ]
    assert offenders == []


async def test_no_blocking_checkpoint_at_runtime(tmp_path, file_replica, monkeypatch):
    """Every statement any connection of this process runs, through a replicated start, writes
    and a stop, with every installed plugin loaded."""
    from datasette.database import Database

    statements = []
    original_connect = Database.connect

    def traced_connect(self, *args, **kwargs):
        conn = original_connect(self, *args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(Database, "connect", traced_connect)
    datasette = await start(tmp_path / "internal.db", replication_config(file_replica))
    await write_keys(datasette, *(f"key-{n}" for n in range(50)))
    for path in ("/", "/-/versions.json", "/-/plugins.json"):
        await datasette.client.get(path)
    await stop(datasette)
    assert any("_datasette_internal_cache" in sql for sql in statements)
    assert [sql for sql in statements if BLOCKING_CHECKPOINT.search(sql)] == []


NOTES_PLUGIN = """
import json
from datasette import hookimpl
from datasette.utils.asgi import Response
from sqlite_utils import Migrations
from datasette_internal_db import get_internal_db

migrations = Migrations("notes-probe")


@migrations()
def m001_notes(db):
    db["notes_probe_notes"].create({"id": int, "text": str}, pk="id")


@hookimpl
def register_internal_migrations(datasette):
    return migrations


async def notes(request, datasette):
    db = get_internal_db(datasette)
    if request.method == "POST":
        text = request.args.get("text", "")
        await db.execute_write("insert into notes_probe_notes (text) values (?)", [text])
        return Response.json({"ok": True})
    rows = await db.execute("select text from notes_probe_notes order by id")
    return Response.json({"notes": [row["text"] for row in rows], "db": db.name})


@hookimpl
def register_routes():
    return [(r"^/-/notes$", notes)]
"""


def read_node(tmp_path, replica, name, env=None, args=(), plugins=None, **options):
    """``plugins``: as for start_server (None: every installed plugin, like the primary)."""
    folder = tmp_path / name
    folder.mkdir()
    return start_server(
        folder,
        internal="internal.db",
        config=replication_config(replica, role="read", **options),
        args=list(args),
        env={"LITESTREAM_REPLICA_URL": replica} if env is None else env,
        plugins=plugins,
        timeout=120,
    )


def wait_for_note(node, text):
    deadline = time.monotonic() + 30
    while text not in httpx.get(f"{node.url}/-/notes").json()["notes"]:
        assert time.monotonic() < deadline, f"the read node never saw the write {text!r}"
        time.sleep(0.2)


def test_read_node_serves_the_replica_and_sends_writes_to_the_primary(
    tmp_path, file_replica, plugins_dir
):
    primary = start_server(
        tmp_path,
        internal="primary.db",
        config=replication_config(file_replica),
        args=["--plugins-dir", plugins_dir("notes_probe", NOTES_PLUGIN)],
        timeout=120,
    )
    try:
        assert httpx.post(f"{primary.url}/-/notes?text=first").status_code == 200
        node = read_node(
            tmp_path,
            file_replica,
            "node",
            args=["--plugins-dir", plugins_dir("notes_probe", NOTES_PLUGIN)],
            primary_url="https://primary.example",
        )
        try:
            assert httpx.get(f"{node.url}/-/notes").json()["db"] == "__INTERNAL_REPLICA__"
            # A write acknowledged by the primary shows up on the read node (about 1 s later):
            # the first one too, which may not have been shipped yet when the node restored.
            wait_for_note(node, "first")
            assert httpx.post(f"{primary.url}/-/notes?text=second").status_code == 200
            wait_for_note(node, "second")
            refused = httpx.post(f"{node.url}/-/notes?text=on-node")
            assert refused.status_code == 307
            assert refused.headers["location"] == "https://primary.example/-/notes?text=on-node"
            # Datasette's own catalog lives in the node's local --internal, not in the replica.
            local = sqlite3.connect(tmp_path / "node" / "internal.db")
            assert local.execute("select count(*) from catalog_databases").fetchone()[0] >= 0
            assert local.execute("select count(*) from notes_probe_notes").fetchone() == (0,)
            local.close()
        finally:
            node.stop()
    finally:
        primary.stop()
    assert "on-node" not in keys_of_notes(restored_path(tmp_path, file_replica))


def restored_path(tmp_path, replica):
    output = tmp_path / "restored-notes.db"
    subprocess.run(
        [replication.litestream_binary(), "restore", "-o", str(output), replica],
        check=True,
        capture_output=True,
    )
    return output


def keys_of_notes(path):
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("select text from notes_probe_notes")}
    finally:
        conn.close()


async def test_read_node_checks_its_environment_and_replica_and_answers_503_alone(
    tmp_path, file_replica, plugins_dir
):
    # Every installed plugin, as on the node: the replica must hold all their steps.
    primary = await start(tmp_path / "primary.db", replication_config(file_replica))
    await stop(primary)
    # The VFS takes the replica URL only from the environment the process starts with.
    with pytest.raises(RuntimeError) as failed:
        read_node(tmp_path, file_replica, "no-env", env={}, plugins=[])
    assert f"start Datasette with LITESTREAM_REPLICA_URL='{file_replica}'" in str(failed.value)
    assert "(it is unset)" in str(failed.value)
    # A plugin here whose tables the primary never made: refused, never migrated here.
    with pytest.raises(RuntimeError, match=r"lacks migration steps .*notes-probe: m001_notes"):
        read_node(
            tmp_path,
            file_replica,
            "newer-plugin",
            args=["--plugins-dir", plugins_dir("notes_probe", NOTES_PLUGIN)],
            plugins=[],
        )

    node = read_node(tmp_path, file_replica, "node", args=["--root"], plugins=[])
    try:
        refused = httpx.post(
            f"{node.url}/-/internal/settings",
            json={"plugin": "datasette-internal-db", "key": "audit_retention_days", "value": 9},
            cookies=node.cookies_for("root"),
        )
        assert refused.status_code == 503
        assert refused.json()["ok"] is False
        assert "read node" in refused.json()["errors"][0]
        assert "primary_url" in refused.json()["errors"][0]
        page = httpx.get(f"{node.url}/-/internal/settings.json", cookies=node.cookies_for("root"))
        assert page.status_code == 200
    finally:
        node.stop()


async def test_an_unreachable_replica_stops_the_start(tmp_path, s3_server, monkeypatch):
    # Credentials given, so the AWS client never asks an instance-metadata address for them.
    monkeypatch.setenv("LITESTREAM_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("LITESTREAM_SECRET_ACCESS_KEY", "test-secret")
    replica = f"s3://no-such-bucket/x?endpoint={s3_server}&region=us-east-1"
    with only_plugins():
        datasette = Datasette(
            [], internal=str(tmp_path / "internal.db"), config=replication_config(replica)
        )
        with pytest.raises(StartupError, match="NoSuchBucket"):
            await datasette.invoke_startup()
        datasette.close()
        release_server_lock(datasette)
