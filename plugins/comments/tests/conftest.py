import sqlite3

import pytest
from datasette.plugins import pm
from datasette_internal_db.testing import (  # noqa: F401
    close,
    cookies_for,
    frozen_time,
    launch_chromium,
    make_datasette,
)
from playwright.sync_api import sync_playwright

CONFIG = {
    "databases": {
        "private": {"allow": {"id": ["admin", "root"]}},
        "data": {
            "tables": {
                "hidden": {"allow": {"id": ["admin", "root"]}},
                "quiet": {"permissions": {"comments-view": {"id": ["admin", "root"]}}},
            },
            "permissions": {"comments-moderate": {"id": ["mod", "root"]}},
        },
    },
}


def make_files(tmp_path):
    data = tmp_path / "data.db"
    conn = sqlite3.connect(data)
    conn.executescript(
        """
        create table items (id integer primary key, name text, price real);
        insert into items values (1, 'apple', 1.5), (2, 'pear', 2.0), (3, 'plum', 0.5);
        create table notes (body text);
        insert into notes values ('first note'), ('second note');
        create table pairs (a text, b text, value text, primary key (a, b));
        insert into pairs values ('x/y', 'z,w', 'v1');
        create table hidden (id integer primary key, name text);
        insert into hidden values (1, 'classified label');
        create table quiet (id integer primary key, name text);
        insert into quiet values (1, 'quiet label');
        create table "odd""table]" ("id""]" integer primary key, "v al" text);
        insert into "odd""table]" values (1, 'odd value');
        """
    )
    conn.close()
    private = tmp_path / "private.db"
    conn = sqlite3.connect(private)
    conn.executescript(
        "create table secrets (id integer primary key, name text);"
        "insert into secrets values (1, 'top secret label');"
    )
    conn.close()
    return [data, private]


@pytest.fixture
def files(tmp_path):
    return make_files(tmp_path)


@pytest.fixture
async def ds(tmp_path, files):
    datasette = await make_datasette(tmp_path, files=files, config=CONFIG)
    datasette.root_enabled = True
    yield datasette
    close(datasette)


class Client:
    """Requests as one signed-in actor (or anonymous for None)."""

    def __init__(self, datasette, actor_id):
        self.datasette = datasette
        self.cookies = cookies_for(datasette, actor_id) if actor_id else {}

    async def get(self, path, **kwargs):
        return await self.datasette.client.get(path, cookies=self.cookies, **kwargs)

    async def post(self, path, json=None, **kwargs):
        return await self.datasette.client.post(path, json=json, cookies=self.cookies, **kwargs)

    async def new_thread(self, body="Hello", **target):
        target.setdefault("database", "data")
        response = await self.post("/-/comments/api/threads", {**target, "body": body})
        assert response.status_code == 200, response.text
        return response.json()["thread"]

    async def reply(self, thread_id, body):
        response = await self.post(f"/-/comments/api/threads/{thread_id}/comments", {"body": body})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def as_actor(ds):
    return lambda actor_id: Client(ds, actor_id)


@pytest.fixture
def register():
    """``register(plugin)``: hooks for one test, unregistered when it ends (passed or not), so
    no test runs with another test's plugin."""
    names = []

    def add(plugin):
        name = f"comments-test-{plugin.__name__}-{len(names)}"
        pm.register(plugin, name=name)
        names.append(name)
        return plugin

    yield add
    for name in names:
        pm.unregister(name=name)


@pytest.fixture
async def datasette_on(tmp_path, files):
    """``await datasette_on(internal="other.db", config=...)``: another Datasette on the test's
    files, closed when the test ends (``datasette_on.close(d)`` closes one early, to restart)."""
    made = []

    async def make(**kwargs):
        kwargs.setdefault("config", CONFIG)
        datasette = await make_datasette(tmp_path, files=files, **kwargs)
        made.append(datasette)
        return datasette

    def close_early(datasette):
        made.remove(datasette)
        close(datasette)

    make.close = close_early
    yield make
    for datasette in made:
        close(datasette)


# Browser tests: each module has a `server` fixture (a real datasette serve).
@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page_as(server, browser):
    """``page_as("alice")``: a page signed in as alice (None: anonymous); closed afterwards, and
    no script a test stored ever ran (no alert) nor did any page log an error."""
    contexts, alerts, errors = [], [], []

    def open_page(actor_id):
        context = browser.new_context(base_url=server.url, timezone_id="America/New_York")
        if actor_id:
            cookie = server.cookies_for(actor_id)["ds_actor"]
            context.add_cookies([{"name": "ds_actor", "value": cookie, "url": server.url}])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)

        def on_dialog(dialog):
            # Deleting asks for confirmation; anything else would be injected script.
            if dialog.type == "confirm" and dialog.message == "Delete this comment?":
                dialog.accept()
            else:
                alerts.append(dialog.message)
                dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert alerts == []
    assert errors == []


def press_until(page, key, selector, limit=60):
    """Press ``key`` until the focused element matches ``selector`` (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{key} never reached {selector}")
