import contextlib
import sqlite3

import pytest
from datasette_internal_db.testing import close, frozen_time, make_datasette  # noqa: F401


@pytest.fixture
def data_db(tmp_path):
    path = tmp_path / "data.db"
    conn = sqlite3.connect(path)
    conn.execute("create table species (id integer primary key, name text)")
    conn.execute("insert into species (name) values ('otter')")
    conn.commit()
    conn.close()
    return path


@pytest.fixture
async def ds(tmp_path):
    datasette = await make_datasette(tmp_path)
    yield datasette
    close(datasette)


def set_pragma(conn, name, value):
    conn.execute(f"pragma {name} = {value}")


@contextlib.asynccontextmanager
async def internal_db_full(ds):
    """Inside the block no page may be added to the internal DB file (SQLITE_FULL)."""
    internal = ds.get_internal_database()

    def full(conn):
        set_pragma(conn, "max_page_count", conn.execute("pragma page_count").fetchone()[0])

    await internal.execute_write_fn(full, transaction=False)
    try:
        yield
    finally:
        await internal.execute_write_fn(
            lambda conn: set_pragma(conn, "max_page_count", 1_000_000), transaction=False
        )


@contextlib.asynccontextmanager
async def internal_db_locked(ds):
    """Inside the block another connection holds the internal DB's write lock, and Datasette's
    writer gives up at once instead of after its 5 s busy timeout (SQLITE_BUSY)."""
    internal = ds.get_internal_database()
    await internal.execute_write_fn(
        lambda conn: set_pragma(conn, "busy_timeout", 0), transaction=False
    )
    other = sqlite3.connect(internal.path, isolation_level=None)
    try:
        other.execute("begin immediate")
        yield
    finally:
        other.close()  # which rolls its transaction back
        await internal.execute_write_fn(
            lambda conn: set_pragma(conn, "busy_timeout", 5000), transaction=False
        )


PLUGIN_WITH_STATE = """
from datasette import hookimpl
from sqlite_utils import Migrations

migrations = Migrations("stateful-plugin")


@migrations()
def m001_items(db):
    db["stateful_plugin_items"].create({"id": int, "name": str}, pk="id")


@hookimpl
def register_internal_migrations(datasette):
    return migrations
"""

PLUGIN_WITH_FAILING_MIGRATION = """
from datasette import hookimpl
from sqlite_utils import Migrations

migrations = Migrations("broken-plugin")


@migrations()
def m001_fine(db):
    db["broken_plugin_fine"].create({"id": int}, pk="id")


@migrations()
def m002_broken(db):
    db["broken_plugin_half"].create({"id": int}, pk="id")
    db.execute("select * from no_such_table")


@hookimpl
def register_internal_migrations(datasette):
    return migrations
"""


@pytest.fixture
def plugins_dir(tmp_path):
    """Write plugin source into a plugins directory for `datasette serve --plugins-dir`."""
    directory = tmp_path / "plugins"
    directory.mkdir()

    def write(name, source):
        (directory / f"{name}.py").write_text(source)
        return str(directory)

    return write
