# Datasette first: importing datasette_internal_db first would load every plugin's entry point
# while core's package is half imported.
import datasette.app  # noqa: F401, I001

import sqlite3

import pytest
from datasette.hookspecs import hookimpl
from datasette.plugins import pm
from datasette_internal_db.testing import (  # noqa: F401 (frozen_time: a fixture)
    close,
    cookies_for,
    frozen_time,
    make_datasette,
)

PRIVATE_TABLE_CONFIG = {
    "databases": {"data": {"tables": {"secret": {"allow": {"id": ["alice", "root"]}}}}}
}


def create_data_db(path):
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        create table places (id integer primary key, name text, country text);
        insert into places (name, country) values
            ('Paris', 'fr'), ('Lyon', 'fr'), ('Berlin', 'de'), ('Rome', 'it');
        create table secret (id integer primary key, code text);
        insert into secret (code) values ('hidden');
        """
    )
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def data_db(tmp_path):
    return create_data_db(tmp_path / "data.db")


@pytest.fixture
async def ds(tmp_path, data_db):
    datasette = await make_datasette(tmp_path, files=[data_db], config=PRIVATE_TABLE_CONFIG)
    datasette.root_enabled = True
    await datasette.start_background_tasks()
    yield datasette
    await datasette.invoke_shutdown()
    close(datasette)


@pytest.fixture
def alice(ds):
    return cookies_for(ds, "alice")


@pytest.fixture
def bob(ds):
    return cookies_for(ds, "bob")


@pytest.fixture
def root(ds):
    return cookies_for(ds, "root")


class EventRecorder:
    def __init__(self):
        self.events = []

    @hookimpl
    def track_event(self, datasette, event):
        self.events.append(event)

    def names(self):
        return [event.name for event in self.events]


@pytest.fixture
def events():
    recorder = EventRecorder()
    pm.register(recorder, name="bookmarks-test-events")
    yield recorder
    pm.unregister(name="bookmarks-test-events")
