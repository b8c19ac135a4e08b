"""Screenshots of the comments UI for the README: a real `datasette serve` with sample data,
driven in Chromium. Run by `nox -s screenshots` (or `python plugins/comments/tests/screenshots.py`
in a venv with the package's test extras); writes plugins/comments/docs/*.png."""

import re
import sqlite3
import tempfile
from pathlib import Path

import httpx
from datasette_internal_db.testing import launch_chromium, serve, settle
from playwright.sync_api import expect, sync_playwright

DOCS = Path(__file__).resolve().parent.parent / "docs"
# People with names, from a directory plugin: actors_from_ids for names, and the
# comments_actors hook so @mention autocomplete knows everyone (README, "For plugin authors").
DIRECTORY_PLUGIN = """
from datasette import hookimpl

PEOPLE = {"alice": "Alice Moreau", "bob": "Bob Okafor", "carol": "Carol Ng", "dan": "Dan Price"}


@hookimpl
def actors_from_ids(datasette, actor_ids):
    return {i: {"id": i, "name": PEOPLE.get(i, i)} for i in actor_ids}


@hookimpl
def comments_actors(datasette, prefix):
    return [{"id": i, "name": name} for i, name in PEOPLE.items()]
"""
SIGHTINGS = [
    ("otter", "Severn", 2, "2026-11-02"),
    ("kingfisher", "Wye", 1, "2026-11-03"),
    ("heron", "Usk", 4, "2026-11-03"),
    ("water vole", "Severn", 3, "2026-11-05"),
    ("dipper", "Wye", 2, "2026-11-06"),
    ("otter", "Teme", 1, "2026-11-08"),
]


def sample_data(folder):
    path = folder / "wildlife.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "create table sightings (id integer primary key, species text, river text,"
        " count integer, seen_on text)"
    )
    conn.executemany(
        "insert into sightings (species, river, count, seen_on) values (?, ?, ?, ?)", SIGHTINGS
    )
    conn.commit()
    conn.close()
    return path


def shoot(page, name, **options):
    # the dialog's opening animation finished, relative times rendered
    settle(page)
    times = page.locator("time.di-time")
    if times.count():
        expect(times.first).not_to_have_text(re.compile("UTC$"))
    page.screenshot(path=str(DOCS / f"{name}.png"), **options)
    print(f"wrote {DOCS / name}.png")


def seed(server):
    def post(actor, path, body):
        response = httpx.post(server.url + path, json=body, cookies=server.cookies_for(actor))
        response.raise_for_status()
        return response.json()

    api = "/-/comments/api"
    row = {"database": "wildlife", "table": "sightings"}
    otter = post(
        "alice",
        f"{api}/threads",
        {**row, "row": [1], "body": "Two otters at **Severn** bridge? @bob saw only one."},
    )["thread"]
    reply = post("bob", f"{api}/threads/{otter['id']}/comments", {"body": "Two: a mother and cub."})
    post("alice", f"{api}/comments/{reply['comment_id']}/reactions", {"emoji": "+1"})
    post("carol", f"{api}/comments/{reply['comment_id']}/reactions", {"emoji": "+1"})
    post("carol", f"{api}/comments/{reply['comment_id']}/reactions", {"emoji": "heart"})
    count = post(
        "carol",
        f"{api}/threads",
        {**row, "row": [1], "column": "count", "body": "Counted from the photos, fixed."},
    )["thread"]
    post("carol", f"{api}/threads/{count['id']}/resolve", {})
    post("bob", f"{api}/threads", {**row, "row": [3], "body": "Heron count looks high."})
    post("dan", f"{api}/threads", {**row, "row": [4], "body": "Photo on the team drive."})
    post("alice", f"{api}/threads", {**row, "body": "Rivers named as in the **EA** survey."})


def flows(page):
    page.goto("/wildlife/sightings")
    shoot(page, "table-badges")

    page.locator('.comment-badge[data-comments-row="1"]').click()
    dialog = page.locator("#comments-dialog")
    expect(dialog.locator(".comment-thread")).to_have_count(2)
    reply = dialog.locator(".comment-reply textarea").first
    reply.fill("Thanks @ca")
    expect(dialog.locator(".comment-mention-suggestions li")).to_have_count(1)
    shoot(page, "dialog")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.goto("/wildlife/sightings/1")
    shoot(page, "row-page", full_page=True)

    page.goto("/-/comments")
    shoot(page, "activity")


def menu(page):
    page.goto("/wildlife/sightings")
    page.locator("details.nav-menu > summary").click()
    shoot(page, "menu", clip={"x": 780, "y": 0, "width": 500, "height": 320})


def main():
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        plugins = folder / "plugins"
        plugins.mkdir()
        (plugins / "directory.py").write_text(DIRECTORY_PLUGIN)
        args = ["--plugins-dir", str(plugins), "--setting", "default_page_size", "10"]
        with serve(folder, [sample_data(folder)], args=args) as server, sync_playwright() as p:
            seed(server)
            browser = launch_chromium(p)
            try:
                for actor, steps in (("alice", flows), ("bob", menu)):
                    context = browser.new_context(
                        base_url=server.url,
                        viewport={"width": 1280, "height": 900},
                        timezone_id="Europe/London",
                    )
                    cookie = server.cookies_for(actor)["ds_actor"]
                    context.add_cookies([{"name": "ds_actor", "value": cookie, "url": server.url}])
                    page = context.new_page()
                    page.set_default_timeout(15_000)
                    steps(page)
                    context.close()
            finally:
                browser.close()


if __name__ == "__main__":
    main()
