import os
import sqlite3

import pytest
from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import pm
from datasette.utils import StartupError
from datasette_internal_db import (
    Plugin,
    UnsupportedDatasette,
    get_internal_db,
    is_persistent,
)
from datasette_internal_db import migrations as core_migrations
from datasette_internal_db.testing import close, make_datasette
from sqlite_utils import Database, Migrations


async def test_get_internal_db_is_the_internal_database(ds):
    internal = get_internal_db(ds)
    assert internal is ds.get_internal_database()
    assert is_persistent(ds)


def test_datasette_zero_point_x_is_refused_by_name():
    class OldDatasette:  # Datasette 0.65 has no get_internal_database()
        pass

    with pytest.raises(UnsupportedDatasette, match=r"datasette>=1\.0a41"):
        get_internal_db(OldDatasette())


async def test_marker_row(ds):
    row = (await get_internal_db(ds).execute("select * from _datasette_internal")).first()
    assert row["id"] == 1
    assert row["datasette_version"].startswith("1.0")
    assert row["core_version"] == "0.1.0"
    assert len(row["instance_id"]) == 32


async def test_persistence_pragmas(ds):
    internal = get_internal_db(ds)

    def read(conn):
        return [
            conn.execute(f"pragma {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "busy_timeout")
        ]

    assert await internal.execute_write_fn(read, transaction=False) == ["wal", 1, 5000]


async def test_temporary_internal_db_is_not_persistent(tmp_path):
    datasette = await make_datasette(tmp_path, internal=None)
    assert not is_persistent(datasette)
    close(datasette)


async def stop_with_datasettes_own_close(datasette):
    datasette.close()


async def stop_with_invoke_shutdown(datasette):
    await datasette.invoke_shutdown()


async def stop_with_core_close(datasette):
    close(datasette)


# Core's close() and Datasette's own ways alike: Datasette's own tests and plugin authors'
# restart tests stop the first Datasette without core's helper.
@pytest.mark.parametrize(
    "stop", [stop_with_core_close, stop_with_datasettes_own_close, stop_with_invoke_shutdown]
)
async def test_restart_keeps_marker_identity(tmp_path, stop):
    first = await make_datasette(tmp_path)
    instance = (
        await get_internal_db(first).execute("select instance_id from _datasette_internal")
    ).single_value()
    await stop(first)
    second = await make_datasette(tmp_path)
    again = (
        await get_internal_db(second).execute("select instance_id from _datasette_internal")
    ).single_value()
    close(second)
    assert again == instance


async def test_an_open_datasette_of_this_process_is_named_as_the_holder(tmp_path):
    first = await make_datasette(tmp_path)
    with pytest.raises(StartupError) as refused:
        await make_datasette(tmp_path)
    close(first)
    assert f"Another Datasette in this process (pid {os.getpid()})" in str(refused.value)
    assert "close()" in str(refused.value)


async def test_require_core_stops_a_datasette_core_did_not_prepare(tmp_path):
    plugin = Plugin("datasette-internal-probe")
    prepared = await make_datasette(tmp_path)
    plugin.require_core(prepared)
    close(prepared)
    with pytest.raises(StartupError) as refused:
        plugin.require_core(Datasette(memory=True))
    assert "datasette-internal-probe keeps its state" in str(refused.value)
    assert "add datasette-internal-db to DATASETTE_LOAD_PLUGINS" in str(refused.value)


async def test_only_plugins_loads_just_the_plugins_under_test(tmp_path):
    from datasette.plugins import pm
    from datasette_internal_db.testing import only_plugins

    installed = {dist.metadata["name"] for _, dist in pm.list_plugin_distinfo()}
    with only_plugins():
        datasette = await make_datasette(tmp_path)
        plugins = (await datasette.client.get("/-/plugins.json")).json()
        close(datasette)
    assert [p["name"] for p in plugins] == ["datasette-internal-db"]
    assert {dist.metadata["name"] for _, dist in pm.list_plugin_distinfo()} == installed


def internal_contents(path):
    """Schema, step records (without their times) and every row, of an internal DB file."""
    conn = sqlite3.connect(path)
    try:
        schema = conn.execute(
            "select type, name, tbl_name, sql from sqlite_master order by type, name"
        ).fetchall()
        steps = conn.execute(
            "select id, migration_set, name from _sqlite_migrations order by id"
        ).fetchall()
        rows = {
            name: conn.execute(f'select * from "{name}"').fetchall()
            for (name,) in conn.execute("select name from sqlite_master where type = 'table'")
            if name not in ("_sqlite_migrations", "_datasette_internal")
        }
        marker = conn.execute(
            "select id, datasette_version, core_version, key_check is not null"
            " from _datasette_internal"
        ).fetchall()
        journal = conn.execute("pragma journal_mode").fetchone()
        return schema, steps, rows, marker, journal
    finally:
        conn.close()


async def test_a_fresh_internal_db_gets_the_same_schema_and_records_as_step_by_step(
    tmp_path, monkeypatch
):
    """Issue 17: fresh DBs after the first get the first one's image copied in; what they hold
    must equal a step-by-step run's (the first), with every step recorded."""
    monkeypatch.setattr(core_migrations, "fresh_images", {})
    made = []
    for name in ("step-by-step.db", "copied.db"):
        datasette = await make_datasette(tmp_path, internal=name)
        made.append(internal_contents(tmp_path / name))
        close(datasette)
    assert len(core_migrations.fresh_images) == (1 if core_migrations.CAN_COPY_IMAGES else 0)
    step_by_step, copied = made
    assert copied == step_by_step
    assert len(step_by_step[1]) >= len(core_migrations.migrations.pending(Database(memory=True)))
    assert step_by_step[3] == [(1, step_by_step[3][0][1], "0.1.0", 1)]


async def test_a_copied_fresh_internal_db_holds_datasettes_own_step_too(tmp_path, monkeypatch):
    """Issue 17: Datasette's own migration step (its catalog, metadata and queries tables, ~20 ms
    of CPU) is applied last with core's sets, so it is part of the fresh image and a fresh start
    after the first runs no step at all (Python 3.10, without images: the same steps again)."""
    monkeypatch.setattr(core_migrations, "fresh_images", {})
    applied = []
    record_applied = Migrations._record_applied

    def record(migrations, db, name):
        applied.append((migrations.name, name))
        return record_applied(migrations, db, name)

    monkeypatch.setattr(Migrations, "_record_applied", record)
    first = await make_datasette(tmp_path, internal=None)
    assert applied[-1] == ("datasette_internal", "0001_initial")
    close(first)
    applied_first = applied.copy()
    applied.clear()
    second = await make_datasette(tmp_path, internal=None)
    assert applied == ([] if core_migrations.CAN_COPY_IMAGES else applied_first)
    internal = get_internal_db(second)
    steps = (await internal.execute("select migration_set from _sqlite_migrations")).rows
    assert [row[0] for row in steps][-1] == "datasette_internal"
    databases = await internal.execute("select database_name from catalog_databases")
    assert [row[0] for row in databases] == ["_memory"]
    close(second)


async def test_a_partly_migrated_internal_db_runs_only_its_pending_steps(tmp_path, monkeypatch):
    monkeypatch.setattr(core_migrations, "fresh_images", {})
    conn = sqlite3.connect(tmp_path / "old.db")
    core_migrations.migrations.apply(Database(conn), stop_before="m008_writers")
    conn.close()
    datasette = await make_datasette(tmp_path, internal="old.db")
    close(datasette)
    assert core_migrations.fresh_images == {}
    fresh = await make_datasette(tmp_path, internal="fresh.db")
    close(fresh)
    old, new = internal_contents(tmp_path / "old.db"), internal_contents(tmp_path / "fresh.db")
    assert old[0] == new[0]
    assert [step[1:] for step in old[1]] == [step[1:] for step in new[1]]


startup_reader_migrations = Migrations("startup-reader")


@startup_reader_migrations()
def m001_items(db):
    db["startup_reader_items"].insert({"id": 1}, pk="id")


class StartupReader:
    """A plugin whose startup hook reads the table its own migration makes."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def register_internal_migrations(self, datasette):
        return startup_reader_migrations

    @hookimpl(tryfirst=True)
    def startup(self, datasette):
        async def inner():
            rows = await datasette.get_internal_database().execute(
                "select id from startup_reader_items"
            )
            self.seen.append([row["id"] for row in rows])

        return inner


async def test_migrations_are_applied_before_any_startup_hook(tmp_path):
    # cookbook/migrations.md: "core applies every set before any `startup` hook runs".
    reader = StartupReader()
    pm.register(reader, name="startup-reader")
    try:
        close(await make_datasette(tmp_path))
    finally:
        pm.unregister(name="startup-reader")
    assert reader.seen == [[1]]
