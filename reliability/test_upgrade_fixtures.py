"""Upgrades: today's code starts on an internal DB written by each package's first schema.

The fixtures (fixtures/<package>-v1.db, built by fixtures/build_fixtures.py and kept for every
future schema change) are copied, served by a real ``datasette serve`` with every plugin, and
must come out fully migrated with every original row intact and readable through the API.
"""

import json
import shutil
from pathlib import Path

import pytest
from reliability_helpers import (
    client,
    cookie_header,
    integrity,
    make_data_db,
    rows,
    serve_all,
    server_config,
    tracebacks,
)

FIXTURES = Path(__file__).parent / "fixtures"
PACKAGES = [
    "datasette-internal-db",
    "datasette-internal-comments",
    "datasette-internal-bookmarks",
    "datasette-internal-webhooks",
]


def fixture_tables(path):
    names = rows(
        path,
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
        " and name not like '%_fts%' and name != '_sqlite_migrations'",
    )
    return [name for (name,) in names]


def snapshot(path, tables, columns_of):
    """Every row of ``tables``, limited to the columns the fixture had."""
    return {
        table: rows(path, f"select {', '.join(columns_of[table])} from [{table}] order by rowid")
        for table in tables
    }


def changed_values(before, after):
    """Cells whose value changed or rows that vanished; a NULL may be filled in by an upgrade."""
    changed = []
    for table, old_rows in before.items():
        new_rows = after[table]
        if len(new_rows) != len(old_rows):
            changed.append((table, len(old_rows), len(new_rows)))
            continue
        for old, new in zip(old_rows, new_rows, strict=True):
            if any(a is not None and a != b for a, b in zip(old, new, strict=True)):
                changed.append((table, old, new))
    return changed


def api_checks(package, http, cookies_for):
    """What each package's API must still show from its v1 rows."""
    alice, root = cookie_header(cookies_for("alice")), cookie_header(cookies_for("root"))
    if package == "datasette-internal-db":
        marker = http.get("/-/internal.json", headers=root).json()["marker"]
        assert marker["instance_id"] == "0123456789abcdef0123456789abcdef"
    elif package == "datasette-internal-comments":
        response = http.get("/-/comments/api/threads/1", headers=alice)
        assert response.status_code == 200, response.text
        text = json.dumps(response.json(), ensure_ascii=False)
        assert "First comment from the" in text
        assert "ünïcødé" in text
    elif package == "datasette-internal-bookmarks":
        response = http.get("/-/bookmarks/api/bookmarks", params={"scope": "mine"}, headers=alice)
        assert response.status_code == 200, response.text
        assert sorted(b["id"] for b in response.json()["bookmarks"]) == [1, 2]
        found = http.get("/-/bookmarks/api/bookmarks", params={"q": "upgrades"}, headers=alice)
        assert [b["id"] for b in found.json()["bookmarks"]] != []
    elif package == "datasette-internal-webhooks":
        response = http.get("/-/webhooks/api/endpoints", headers=root)
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()["endpoints"]] == ["ep_0123456789abcdef"]
        deliveries = http.get(
            "/-/webhooks/api/endpoints/ep_0123456789abcdef/deliveries", headers=root
        )
        assert deliveries.status_code == 200, deliveries.text
        assert [d["status"] for d in deliveries.json()["deliveries"]] == ["succeeded"]


@pytest.mark.parametrize("package", PACKAGES)
def test_first_schema_migrates_to_current_with_data_intact(tmp_path, package):
    fixture = FIXTURES / f"{package}-v1.db"
    internal = tmp_path / "internal.db"
    shutil.copy(fixture, internal)
    tables = fixture_tables(fixture)
    columns_of = {
        table: [f"[{row[1]}]" for row in rows(fixture, f"pragma table_info([{table}])")]
        for table in tables
    }
    before = snapshot(fixture, tables, columns_of)
    assert any(before.values()), "the fixture must hold rows"

    # Retention would delete the fixture's old delivery log on schedule; that is not loss.
    config = server_config(log_retention_days=36500)
    server = serve_all(tmp_path, make_data_db(tmp_path / "data.db"), config=config)
    try:
        with client(server) as http:
            status = http.get(
                "/-/internal.json", headers=cookie_header(server.cookies_for("root"))
            ).json()
            pending = {entry["set"]: entry["pending"] for entry in status["migrations"]}
            assert all(steps == [] for steps in pending.values()), pending
            api_checks(package, http, server.cookies_for)
        assert changed_values(before, snapshot(internal, tables, columns_of)) == []
        assert integrity(internal) == "ok"
        assert tracebacks(server) == ""
    finally:
        server.stop()
