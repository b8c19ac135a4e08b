"""The early restore: in ``datasette serve`` the download of a missing internal file starts while
Datasette imports, and the startup hook uses it only for the same file and replica."""

import json
import logging
import os
import sqlite3

import pytest
from datasette.app import Datasette
from datasette_internal_db import Cache, restore
from datasette_internal_db.database import release_server_lock
from datasette_internal_db.replication_config import parse_config
from datasette_internal_db.testing import only_plugins, start_server

cache = Cache("test-early-restore")


@pytest.fixture(autouse=True)
def no_custom_ca_bundle(monkeypatch):
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)


@pytest.fixture(autouse=True)
def no_early_restore_left():
    yield
    early = restore.take_early_restore("/nowhere", parse_config({"replica": "file:///x"}))
    assert early is None, "a test left an early restore running"


def replication_config(replica, **options):
    return {"plugins": {"datasette-internal-db": {"replication": {"replica": replica, **options}}}}


@pytest.fixture
async def replica(tmp_path):
    """A file replica holding keys one and two."""
    url = f"file://{tmp_path / 'replica'}"
    with only_plugins():
        primary = Datasette([], internal=str(tmp_path / "first.db"), config=replication_config(url))
        await primary.invoke_startup()
        for key in ("one", "two"):
            await cache.set(primary, key, key)
        await primary.invoke_shutdown()
        release_server_lock(primary)
    return url


def keys_in(path):
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "select key from _datasette_internal_cache where namespace = ?", [cache.namespace]
        )
        return {row[0] for row in rows}
    finally:
        conn.close()


def serve_argv(*words):
    return ["/venv/bin/datasette", "serve", *words]


def test_the_command_line_is_read_as_datasette_serve_reads_it(monkeypatch):
    monkeypatch.delenv("DATASETTE_INTERNAL", raising=False)
    read = restore.serve_command_line
    expected = ("i.db", ["d.yml"], [])
    assert read(serve_argv("data.db", "--internal", "i.db", "-c", "d.yml")) == expected
    assert read(serve_argv("--internal=i.db", "--config=d.yml", "-s", "a.b", "1")) == (
        "i.db",
        ["d.yml"],
        [("a.b", "1")],
    )
    main = os.path.join("lib", "datasette", "__main__.py")
    assert read([main, "serve", "--internal", "i.db"]) == ("i.db", [], [])
    assert read(["/venv/bin/datasette", "inspect", "--internal", "i.db"]) is None
    assert read(["/venv/bin/pytest", "serve", "--internal", "i.db"]) is None
    assert read(serve_argv("--internal", "i.db", "--reload")) is None
    monkeypatch.setenv("DATASETTE_INTERNAL", "from-env.db")
    assert read(serve_argv("data.db")) == ("from-env.db", [], [])


async def test_a_matching_early_restore_is_used(tmp_path, replica, caplog):
    path = tmp_path / "fresh" / "internal.db"
    path.parent.mkdir()
    config_file = tmp_path / "datasette.json"
    config_file.write_text(json.dumps(replication_config(replica)))
    restore.begin_early_restore(serve_argv("--internal", str(path), "-c", str(config_file)))
    early_output = restore.restore_output(path)
    with caplog.at_level(logging.WARNING, "datasette_internal_db"):
        assert restore.prepare_primary(str(path), parse_config({"replica": replica})) is True
    assert "(begun while Datasette imported)" in caplog.text
    assert keys_in(path) >= {"one", "two"}
    assert not os.path.exists(early_output)


async def test_an_early_restore_of_another_file_or_replica_is_discarded(tmp_path, replica, caplog):
    guessed = tmp_path / "guessed.db"
    config_file = tmp_path / "datasette.json"
    config_file.write_text(json.dumps(replication_config(replica)))
    restore.begin_early_restore(serve_argv("--internal", str(guessed), "-c", str(config_file)))
    path = tmp_path / "actual.db"
    with caplog.at_level(logging.WARNING, "datasette_internal_db"):
        assert restore.prepare_primary(str(path), parse_config({"replica": replica})) is True
    assert "begun while" not in caplog.text
    assert keys_in(path) >= {"one", "two"}
    assert not guessed.exists() and not os.path.exists(restore.restore_output(guessed))

    other = f"file://{tmp_path / 'other-replica'}"
    restore.begin_early_restore(serve_argv("--internal", str(guessed), "-c", str(config_file)))
    assert restore.take_early_restore(str(guessed), parse_config({"replica": other})) is None
    assert not os.path.exists(restore.restore_output(guessed))


async def test_no_early_restore_for_an_existing_file_or_without_replication(tmp_path, replica):
    existing = tmp_path / "existing.db"
    sqlite3.connect(existing).execute("create table t (x)").connection.close()
    config_file = tmp_path / "datasette.json"
    config_file.write_text(json.dumps(replication_config(replica)))
    restore.begin_early_restore(serve_argv("--internal", str(existing), "-c", str(config_file)))
    config = parse_config({"replica": replica})
    assert restore.take_early_restore(str(existing), config) is None
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    missing = tmp_path / "missing.db"
    restore.begin_early_restore(serve_argv("--internal", str(missing), "-c", str(plain)))
    assert restore.take_early_restore(str(missing), config) is None


async def test_datasette_serve_restores_while_it_imports(tmp_path, replica):
    folder = tmp_path / "node"
    folder.mkdir()
    server = start_server(folder, config=replication_config(replica), plugins=[], timeout=120)
    try:
        log = server.log()
    finally:
        server.stop(timeout=60)
    assert "restored from" in log and "(begun while Datasette imported)" in log
    assert keys_in(folder / "internal.db") >= {"one", "two"}
    assert [name for name in os.listdir(folder) if ".restoring-" in name] == []
