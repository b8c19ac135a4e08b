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
