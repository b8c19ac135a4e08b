"""read_on_loop: short reads on the event loop, and when they go to a read thread instead."""

import sqlite3

import pytest
from datasette_internal_db import (
    get_internal_db,
    internal_data_version,
    loop_connection,
    loop_reads,
    read_on_loop,
)
from datasette_internal_db.testing import close, make_datasette

TABLE = "loop_reads_test_items"


def count_items(conn):
    return conn.execute(f"select count(*) from {TABLE}").fetchone()[0]


@pytest.fixture
async def ds(tmp_path):
    datasette = await make_datasette(tmp_path)
    await get_internal_db(datasette).execute_write(f"create table {TABLE} (id integer primary key)")
    yield datasette
    close(datasette)


def count_thread_reads(monkeypatch, db):
    """Every read ``db`` makes in its read threads, as a list the test can look at."""
    reads = []
    execute_fn = db.execute_fn

    async def counted(fn):
        reads.append(fn)
        return await execute_fn(fn)

    monkeypatch.setattr(db, "execute_fn", counted)
    return reads


async def test_a_read_is_made_on_the_loop_and_sees_every_commit(ds, monkeypatch):
    internal = get_internal_db(ds)
    thread_reads = count_thread_reads(monkeypatch, internal)
    assert await read_on_loop(ds, count_items) == 0
    await internal.execute_write(f"insert into {TABLE} default values")
    assert await read_on_loop(ds, count_items) == 1
    assert thread_reads == []
    assert not loop_connection(ds).in_transaction


async def test_a_read_over_its_cpu_budget_is_made_by_a_read_thread(ds, monkeypatch):
    internal = get_internal_db(ds)
    await internal.execute_write_many(
        f"insert into {TABLE} (id) values (?)", [[n] for n in range(1, 5001)]
    )
    thread_reads = count_thread_reads(monkeypatch, internal)
    monkeypatch.setattr(loop_reads, "LOOP_READ_SECONDS", -1)  # every loop read is over budget
    monkeypatch.setattr(loop_reads, "LOOP_READ_STEPS", 1)
    assert await read_on_loop(ds, count_items) == 5000
    assert len(thread_reads) == 1
    assert not loop_connection(ds).in_transaction


async def test_text_the_loop_cannot_decode_is_read_by_a_thread(ds):
    await get_internal_db(ds).execute_write(
        f"create table {TABLE}_text (body text)",
    )
    await get_internal_db(ds).execute_write(
        f"insert into {TABLE}_text values (cast(x'ff' as text))"
    )
    body = await read_on_loop(
        ds, lambda conn: conn.execute(f"select body from {TABLE}_text").fetchone()[0]
    )
    assert body == "\ufffd"  # Datasette's read connections replace bad UTF-8


async def test_a_served_database_is_read_on_the_loop_as_datasette_reads_it(
    tmp_path, data_db, monkeypatch
):
    conn = sqlite3.connect(data_db)
    conn.execute("insert into species (name) values (cast(x'ff' as text))")
    conn.commit()
    conn.close()
    ds = await make_datasette(tmp_path, files=[data_db])
    try:
        db = ds.get_database("data")
        thread_reads = count_thread_reads(monkeypatch, db)
        names = await read_on_loop(
            ds, lambda conn: [row[0] for row in conn.execute("select name from species")], db
        )
        # Decoded by Datasette's own connection setup, on the loop (a thread was not needed).
        assert names == ["otter", "\ufffd"]
        assert thread_reads == []
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            loop_connection(ds, db).execute("insert into species (name) values ('eel')")
    finally:
        close(ds)


async def test_data_version_changes_with_each_commit_of_another_connection(ds):
    before = internal_data_version(ds)
    assert internal_data_version(ds) == before
    await get_internal_db(ds).execute_write(f"insert into {TABLE} default values")
    assert internal_data_version(ds) != before
