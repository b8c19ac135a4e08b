"""Screenshots of the bookmarks and short-links pages for the README: a real `datasette serve`
with sample data, driven in Chromium. Run by `nox -s screenshots` (or
`python plugins/bookmarks/tests/screenshots.py` in a venv with the package's test extras);
writes plugins/bookmarks/docs/*.png."""

import sqlite3
import tempfile
from pathlib import Path

from datasette_internal_db.testing import launch_chromium, serve, settle
from playwright.sync_api import expect, sync_playwright

DOCS = Path(__file__).resolve().parent.parent / "docs"


def sample_data(folder):
    path = folder / "wildlife.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "create table sightings (id integer primary key, species text, river text, count integer)"
    )
    conn.executemany(
        "insert into sightings (species, river, count) values (?, ?, ?)",
        [
            ("otter", "Severn", 2),
            ("kingfisher", "Wye", 1),
            ("heron", "Usk", 3),
            ("otter", "Wye", 1),
            ("dipper", "Usk", 4),
        ],
    )
    conn.commit()
    conn.close()
    return path


def post(page, path, body):
    response = page.request.post(path, data=body)
    assert response.ok, response.text()
    return response.json()


def shoot(page, name, full_page=False):
    settle(page)
    page.screenshot(path=str(DOCS / f"{name}.png"), full_page=full_page)
    print(f"wrote {DOCS / name}.png")


def sample_bookmarks(page):
    bookmarks = [
        {
            "url": "/wildlife/sightings?river=Wye&_sort=species",
            "title": "Everything seen on the Wye",
            "note": "Checked every **spring**; see the [survey notes](/wildlife).",
            "tags": ["wye", "survey"],
            "shared": True,
        },
        {
            "url": "/wildlife/sightings?species=otter",
            "title": "Otters",
            "note": "Both rivers. Counts are *adults only*.",
            "tags": ["otter"],
        },
        {"url": "/wildlife/sightings/99", "title": "The heron on the weir", "tags": ["usk"]},
        {"url": "/wildlife/sightings/5", "title": "Dippers under the bridge", "tags": ["usk"]},
    ]
    for bookmark in bookmarks:
        post(page, "/-/bookmarks/api/bookmarks", bookmark)


def flows(page):
    sample_bookmarks(page)
    page.goto("/-/bookmarks")
    shoot(page, "bookmarks", full_page=True)

    page.get_by_role("button", name="Check bookmarks for link rot").click()
    expect(page.locator(".datasette-internal-job")).to_have_attribute("data-status", "done")
    page.get_by_role("link", name="See which bookmarks are broken").click()
    expect(page.locator(".job-result li")).to_have_count(1)
    shoot(page, "link-rot")

    page.goto("/wildlife/sightings?river=Usk")
    page.locator("details.actions-menu-links summary").click()
    page.get_by_role("menuitem", name="Copy short link").click()
    expect(page.locator(".short-link-toast .di-copied")).to_have_text("Copied!")
    shoot(page, "copy-short-link")

    code = page.locator(".short-link-toast a.short-link-url").inner_text().rsplit("/", 1)[1]
    post(
        page,
        f"/-/l/api/links/{code}",
        {"title": "Usk sightings", "expires_at": "2027-06-30T21:00:00Z", "max_visits": 500},
    )
    for _ in range(3):
        page.request.get(f"/-/l/{code}", max_redirects=0)
    post(page, "/-/l/api/links", {"target": "/wildlife/sightings/1", "title": "First otter"})
    page.goto(f"/-/links/{code}")
    page.wait_for_function("document.querySelector('img.qr').naturalWidth > 0")
    shoot(page, "short-link")

    page.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("dialog", name="Edit short link")).to_be_visible()
    shoot(page, "edit-short-link")

    page.goto("/-/links")
    shoot(page, "short-links")


def main():
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        tmp_path = Path(folder)
        data = sample_data(tmp_path)
        plugins = ["datasette-internal-bookmarks"]
        with serve(tmp_path, [data], plugins=plugins) as server, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            context = browser.new_context(
                base_url=server.url,
                viewport={"width": 1000, "height": 640},
                timezone_id="Europe/London",
            )
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
            cookie = server.cookies_for("alice")["ds_actor"]
            context.add_cookies([{"name": "ds_actor", "value": cookie, "url": server.url}])
            page = context.new_page()
            page.set_default_timeout(15_000)
            try:
                flows(page)
            finally:
                browser.close()


if __name__ == "__main__":
    main()
