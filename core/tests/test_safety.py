"""End-to-end: `datasette serve` refuses unsafe files before it listens."""

import os
import sqlite3
import subprocess
import sys

import httpx
import pytest
from datasette_internal_db.testing import free_port, serve


def run_serve(*args, env=None):
    """Run `datasette serve` expecting it to exit on its own; returns (exit code, output)."""
    command = [sys.executable, "-m", "datasette", "serve", *map(str, args), "-p", str(free_port())]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=dict(os.environ, **(env or {}))
    )
    return result.returncode, result.stdout + result.stderr


def tables(path):
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("select name from sqlite_master where type='table'")}
    finally:
        conn.close()


def make_internal(tmp_path, name="internal.db", env=None):
    path = tmp_path / name
    code, output = run_serve("--internal", path, "--get", "/-/versions.json", env=env)
    assert code == 0, output
    return path


@pytest.mark.parametrize("flag", ["", "-i"])
def test_refuses_file_with_marker(tmp_path, flag):
    internal = make_internal(tmp_path)
    assert "_datasette_internal" in tables(internal)
    code, output = run_serve(*([flag] if flag else []), internal)
    assert code == 1
    assert f"Refusing to serve {internal}" in output
    assert "_datasette_internal marker" in output
    assert f"--internal {internal}" in output


@pytest.mark.parametrize("flag", ["", "-i"])
def test_refuses_internal_db_made_by_datasette_alone(tmp_path, flag):
    # DATASETTE_LOAD_PLUGINS="" loads no plugin: this is a plain Datasette internal DB.
    internal = make_internal(tmp_path, env={"DATASETTE_LOAD_PLUGINS": ""})
    assert "_datasette_internal" not in tables(internal)
    assert "catalog_tables" in tables(internal)
    code, output = run_serve(*([flag] if flag else []), internal)
    assert code == 1
    assert "Datasette's internal tables" in output


def test_startup_names_the_internal_file_and_the_steps_it_applied(tmp_path):
    path = tmp_path / "internal.db"
    code, output = run_serve("--internal", path, "--get", "/-/versions.json")
    assert code == 0, output
    assert f"Internal database: {path} (journal wal); migration steps applied now: " in output
    assert "datasette-internal-db:m001_marker" in output
    code, output = run_serve("--internal", path, "--get", "/-/versions.json")
    assert "migration steps applied now: none (up to date)" in output


def test_refuses_same_file_as_internal(tmp_path):
    target = tmp_path / "fresh.db"
    code, output = run_serve("--create", target, "--internal", target)
    assert code == 1
    assert "same file as --internal" in output


@pytest.mark.parametrize("link", [os.symlink, os.link], ids=["symlink", "hard link"])
def test_refuses_same_file_as_internal_under_another_name(tmp_path, link):
    # README, check 3: "a served database is the same file as `--internal`", whatever path names
    # it. The file is empty, so no marker or internal table could give it away instead.
    internal = tmp_path / "fresh.db"
    internal.touch()
    other_name = tmp_path / "elsewhere" / "data.db"
    other_name.parent.mkdir()
    link(internal, other_name)
    code, output = run_serve(other_name, "--internal", internal, "--get", "/-/versions.json")
    assert code == 1, output
    assert f"Refusing to serve {other_name} as a database: it is the same file as --internal" in (
        output
    )
    assert internal.stat().st_size == 0  # refused before anything was written


def test_override_serves_with_loud_warning(tmp_path):
    internal = make_internal(tmp_path)
    code, output = run_serve(
        internal,
        "-s",
        "plugins.datasette-internal-db.unsafe_allow_internal",
        "true",
        "--get",
        "/-/databases.json",
    )
    assert code == 0, output
    assert "UNSAFE" in output
    assert '"name": "internal"' in output


def test_refuses_user_database_as_internal(tmp_path, data_db):
    before = tables(data_db)
    code, output = run_serve("--internal", data_db)
    assert code == 1
    assert f"Refusing to use {data_db} as the internal database" in output
    assert "species" in output
    assert tables(data_db) == before


def test_plugin_tables_are_not_user_tables(tmp_path, plugins_dir):
    from conftest import PLUGIN_WITH_STATE

    directory = plugins_dir("stateful", PLUGIN_WITH_STATE)
    internal = tmp_path / "internal.db"
    for _ in range(2):
        code, output = run_serve(
            "--internal", internal, "--plugins-dir", directory, "--get", "/-/versions.json"
        )
        assert code == 0, output
    assert "stateful_plugin_items" in tables(internal)


def test_warns_without_internal_when_plugins_keep_state(tmp_path, plugins_dir):
    from conftest import PLUGIN_WITH_STATE

    directory = plugins_dir("stateful", PLUGIN_WITH_STATE)
    code, output = run_serve("--memory", "--plugins-dir", directory, "--get", "/-/versions.json")
    assert code == 0
    assert output.count("state is lost when Datasette exits") == 1
    assert "stateful-plugin" in output

    code, output = run_serve(
        "--memory",
        "--plugins-dir",
        directory,
        "-s",
        "plugins.datasette-internal-db.require_persistent",
        "true",
        "--get",
        "/-/versions.json",
    )
    assert code == 1
    assert "require_persistent" in output


def test_no_warning_with_internal(tmp_path, plugins_dir):
    from conftest import PLUGIN_WITH_STATE

    directory = plugins_dir("stateful", PLUGIN_WITH_STATE)
    code, output = run_serve(
        "--internal", tmp_path / "i.db", "--plugins-dir", directory, "--get", "/-/versions.json"
    )
    assert code == 0
    assert "state is lost" not in output


def test_one_server_per_internal_file(tmp_path, data_db):
    with serve(tmp_path, [data_db]) as first:
        code, output = run_serve(data_db, "--internal", first.internal_path)
        assert code == 1
        assert "Another Datasette process" in output
        assert f"pid {first.process.pid}" in output
        assert httpx.get(first.url + "/-/versions.json").status_code == 200
        first.kill()
    # The crashed server's lock does not block the next one.
    with serve(tmp_path, [data_db]) as second:
        assert httpx.get(second.url + "/data.json").status_code == 200


@pytest.mark.parametrize("link", [os.symlink, os.link], ids=["symlink", "hard link"])
def test_one_server_per_internal_file_whatever_path_names_it(tmp_path, data_db, link):
    with serve(tmp_path, [data_db]) as first:
        other_name = tmp_path / "elsewhere" / "link.db"
        other_name.parent.mkdir()
        link(first.internal_path, other_name)
        other_db = tmp_path / "other.db"
        sqlite3.connect(other_db).execute("create table t (id integer)").connection.close()
        code, output = run_serve(other_db, "--internal", other_name)
        assert code == 1, output
        assert f"pid {first.process.pid}" in output
        assert httpx.get(first.url + "/-/versions.json").status_code == 200


def test_no_lock_file_left_beside_the_internal_file(tmp_path, data_db):
    with serve(tmp_path, [data_db]) as server:
        lock_file = str(server.internal_path) + ".lock"
        assert not os.path.exists(lock_file)
    assert not os.path.exists(lock_file)


def test_failing_migration_blocks_startup(tmp_path, plugins_dir):
    from conftest import PLUGIN_WITH_FAILING_MIGRATION

    directory = plugins_dir("broken", PLUGIN_WITH_FAILING_MIGRATION)
    internal = tmp_path / "internal.db"
    code, output = run_serve("--internal", internal, "--plugins-dir", directory)
    assert code == 1
    assert "Migration 'broken-plugin' step 'm002_broken' failed" in output
    found = tables(internal)
    assert "broken_plugin_fine" in found
    assert "broken_plugin_half" not in found  # the failed step rolled back whole
    conn = sqlite3.connect(internal)
    applied = [
        r[0]
        for r in conn.execute(
            "select name from _sqlite_migrations where migration_set = 'broken-plugin'"
        )
    ]
    conn.close()
    assert applied == ["m001_fine"]


def test_restart_keeps_data(tmp_path, data_db):
    setting = {"plugin": "datasette-internal-db", "key": "audit_retention_days", "value": 42}
    env = {"DATASETTE_SECRET": "restart-test"}
    with serve(tmp_path, [data_db], args=["--root"], env=env) as first:
        response = httpx.post(
            first.url + "/-/internal/settings", json=setting, cookies=first.cookies_for("root")
        )
        assert response.status_code == 200, response.text
        instance = httpx.get(first.url + "/-/internal.json", cookies=first.cookies_for("root"))
    with serve(tmp_path, [data_db], args=["--root"], env=env) as second:
        cookies = second.cookies_for("root")
        settings = httpx.get(second.url + "/-/internal/settings.json", cookies=cookies).json()
        value = settings["settings"]["datasette-internal-db"]["audit_retention_days"]
        assert (value["value"], value["source"], value["updated_by"]) == (42, "runtime", "root")
        again = httpx.get(second.url + "/-/internal.json", cookies=cookies)
        assert again.json()["marker"] == instance.json()["marker"]
