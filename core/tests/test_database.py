import pytest
from datasette_internal_db import UnsupportedDatasette, get_internal_db, is_persistent
from datasette_internal_db.testing import close, make_datasette


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


async def test_restart_keeps_marker_identity(tmp_path):
    first = await make_datasette(tmp_path)
    instance = (
        await get_internal_db(first).execute("select instance_id from _datasette_internal")
    ).single_value()
    close(first)
    second = await make_datasette(tmp_path)
    again = (
        await get_internal_db(second).execute("select instance_id from _datasette_internal")
    ).single_value()
    close(second)
    assert again == instance


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
