"""Every `datasette internal` command on real files."""

import json
import sqlite3

import httpx
from click.testing import CliRunner
from datasette.cli import cli
from datasette_internal_db.testing import serve


def invoke(*args):
    return CliRunner().invoke(cli, ["internal", *map(str, args)], catch_exceptions=False)


def test_init_creates_marks_and_migrates(tmp_path):
    path = tmp_path / "internal.db"
    result = invoke("init", path)
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(path)
    marker = conn.execute(
        "select instance_id, datasette_version from _datasette_internal"
    ).fetchone()
    assert len(marker[0]) == 32 and marker[1].startswith("1.0")
    assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert conn.execute("select count(*) from _sqlite_migrations").fetchone()[0] >= 7
    conn.close()
    # init twice is safe and keeps the identity
    assert invoke("init", path).exit_code == 0
    conn = sqlite3.connect(path)
    assert conn.execute("select instance_id from _datasette_internal").fetchone()[0] == marker[0]
    conn.close()


def test_status_text_and_json(tmp_path):
    path = tmp_path / "internal.db"
    invoke("init", path)
    text = invoke("status", path)
    assert text.exit_code == 0
    assert "datasette-internal-db: 8 applied; pending: none" in text.output
    assert "_datasette_internal_audit" in text.output
    data = json.loads(invoke("status", path, "--json").output)
    core = next(s for s in data["migrations"] if s["set"] == "datasette-internal-db")
    assert [step["name"] for step in core["applied"]][0] == "m001_marker"
    assert core["pending"] == []
    assert data["journal_mode"] == "wal"
    marker_table = next(t for t in data["tables"] if t["name"] == "_datasette_internal")
    assert marker_table["rows"] == 1 and marker_table["bytes"] > 0


def test_status_of_missing_file(tmp_path):
    result = CliRunner().invoke(cli, ["internal", "status", str(tmp_path / "nope.db")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_status_shows_pending_then_migrate_applies(tmp_path):
    path = tmp_path / "internal.db"
    invoke("init", path)
    conn = sqlite3.connect(path)
    conn.execute("drop table _datasette_internal_secrets")
    conn.execute("delete from _sqlite_migrations where name = 'm006_secrets'")
    conn.commit()
    conn.close()
    assert "pending: m006_secrets" in invoke("status", path).output
    assert invoke("migrate", path).exit_code == 0
    assert "pending: none" in invoke("status", path).output


def test_migrate_refuses_user_database(tmp_path):
    path = tmp_path / "data.db"
    conn = sqlite3.connect(path)
    conn.execute("create table mine (id integer)")
    conn.commit()
    conn.close()
    result = CliRunner().invoke(cli, ["internal", "migrate", str(path)])
    assert result.exit_code == 1
    assert "Refusing to use" in result.output


def test_check_names_internal_files(tmp_path):
    internal = tmp_path / "internal.db"
    invoke("init", internal)
    data = tmp_path / "data.db"
    sqlite3.connect(data).execute("create table t (id integer)").connection.commit()
    result = CliRunner().invoke(cli, ["internal", "check", str(data), str(internal)])
    assert result.exit_code == 1
    assert f"{internal}: internal database" in result.output
    assert f"{data}:" not in result.output
    ok = CliRunner().invoke(cli, ["internal", "check", str(data)])
    assert ok.exit_code == 0 and "OK" in ok.output


def test_backup_while_server_runs(tmp_path):
    data = tmp_path / "data.db"
    sqlite3.connect(data).execute("create table t (id integer)").connection.commit()
    with serve(tmp_path, [data], args=["--root"]) as server:
        cookies = server.cookies_for("root")
        for value in range(20):
            response = httpx.post(
                server.url + "/-/internal/settings",
                json={
                    "plugin": "datasette-internal-db",
                    "key": "audit_retention_days",
                    "value": value + 1,
                },
                cookies=cookies,
            )
            assert response.status_code == 200, response.text
        dest = tmp_path / "backup.db"
        result = invoke("backup", server.internal_path, dest)
        assert result.exit_code == 0, result.output
        assert "integrity_check ok" in result.output
    conn = sqlite3.connect(dest)
    assert (
        conn.execute(
            "select value from _datasette_internal_settings where key = 'audit_retention_days'"
        ).fetchone()[0]
        == "20"
    )
    conn.close()
    refused = CliRunner().invoke(cli, ["internal", "backup", str(server.internal_path), str(dest)])
    assert refused.exit_code == 1 and "already exists" in refused.output


def record_plugin_set(path, set_name, *tables):
    """Leave behind what an uninstalled plugin's migration set would have left in PATH."""
    conn = sqlite3.connect(path)
    with conn:
        for table in tables:
            conn.execute(f"create table {table} (id integer)")
        conn.execute(
            "insert into _sqlite_migrations (migration_set, name, applied_at)"
            " values (?, 'm001', '2026-01-01')",
            [set_name],
        )
    conn.close()


def test_status_names_uninstalled_sets_and_drop_set_removes_them(tmp_path):
    path = tmp_path / "internal.db"
    invoke("init", path)
    record_plugin_set(path, "old-plugin", "old_plugin_items", "old_plugin_votes")
    record_plugin_set(path, "old-plugin-extra", "old_plugin_extra_things")
    text = invoke("status", path).output
    assert "old-plugin: not installed; left behind: old_plugin_items, old_plugin_votes." in text
    assert f"datasette internal drop-set {path} old-plugin" in text
    data = json.loads(invoke("status", path, "--json").output)
    assert {"set": "old-plugin-extra", "tables": ["old_plugin_extra_things"]} in data["uninstalled"]

    result = invoke("drop-set", path, "old-plugin", "--yes")
    assert result.exit_code == 0, result.output
    assert "Dropped 2 table(s) of old-plugin" in result.output
    data = json.loads(invoke("status", path, "--json").output)
    assert [entry["set"] for entry in data["uninstalled"]] == ["old-plugin-extra"]
    assert {t["name"] for t in data["tables"]} >= {"old_plugin_extra_things", "_datasette_internal"}
    assert "old_plugin_items" not in {t["name"] for t in data["tables"]}


def test_drop_set_refuses_installed_sets_unknown_sets_and_served_files(tmp_path):
    path = tmp_path / "internal.db"
    invoke("init", path)
    installed = CliRunner().invoke(
        cli, ["internal", "drop-set", str(path), "datasette-internal-db"]
    )
    assert installed.exit_code == 1 and "is installed" in installed.output
    unknown = CliRunner().invoke(cli, ["internal", "drop-set", str(path), "never-was", "--yes"])
    assert unknown.exit_code == 1 and "no uninstalled migration set never-was" in unknown.output

    data = tmp_path / "data.db"
    sqlite3.connect(data).execute("create table t (id integer)").connection.commit()
    with serve(tmp_path, [data]) as server:
        record_plugin_set(server.internal_path, "old-plugin", "old_plugin_items")
        busy = CliRunner().invoke(
            cli, ["internal", "drop-set", str(server.internal_path), "old-plugin", "--yes"]
        )
        assert busy.exit_code == 1 and f"pid {server.process.pid}" in busy.output
        assert httpx.get(server.url + "/-/versions.json").status_code == 200
