"""Screenshots of core's /-/internal pages for the README: a real `datasette serve` with a
persistent internal DB, a plugin that runs a job, driven in Chromium. Run by `nox -s screenshots`
(or `python core/tests/screenshots.py` in a venv with core's test extras); writes
core/docs/*.png."""

import sqlite3
import tempfile
from pathlib import Path

from datasette_internal_db.testing import launch_chromium, serve, settle
from playwright.sync_api import expect, sync_playwright

DOCS = Path(__file__).resolve().parent.parent / "docs"

JOB_PLUGIN = """
import asyncio
from datasette import hookimpl
from datasette.utils.asgi import Response
from datasette_internal_db import Plugin

plugin = Plugin("datasette-example")


async def check_links(job):
    for _ in range(4):
        await asyncio.sleep(0.1)
        await job.advance()
    return {
        "summary": "2 of 4 links are broken",
        "items": [
            {"label": "Rivers survey", "href": "/wildlife/sightings?river=Wye", "detail": "404"},
            {"label": "Old export", "href": "/wildlife/sightings.csv", "detail": "timed out"},
        ],
    }


async def start(datasette, request):
    job_id = await plugin.jobs.start(
        datasette, "check-links", check_links, actor_id="root", total=4
    )
    for action, resource in [("link-added", "/wildlife/sightings?river=Wye"), ("link-scan", None)]:
        await plugin.audit.record(datasette, action, actor=request.actor, resource=resource)
    return Response.json({"job_id": job_id})


@hookimpl
def register_routes():
    return [(r"^/-/start-job$", start)]
"""


def sample_data(folder):
    path = folder / "wildlife.db"
    conn = sqlite3.connect(path)
    conn.execute("create table sightings (id integer primary key, species text, river text)")
    conn.executemany(
        "insert into sightings (species, river) values (?, ?)",
        [("otter", "Severn"), ("kingfisher", "Wye"), ("heron", "Usk")],
    )
    conn.commit()
    conn.close()
    return path


def shoot(page, name):
    settle(page)
    page.screenshot(path=str(DOCS / f"{name}.png"))
    print(f"wrote {DOCS / name}.png")


def flows(page):
    response = page.request.post(
        "/-/internal/settings",
        data={"plugin": "datasette-internal-db", "key": "audit_retention_days", "value": 30},
    )
    assert response.ok, response.text()
    started = page.request.get("/-/start-job")
    assert started.ok, started.text()
    job_id = started.json()["job_id"]

    page.goto("/-/internal")
    shoot(page, "status")
    page.goto("/-/internal/settings")
    shoot(page, "settings")
    page.goto("/-/internal/audit")
    shoot(page, "audit")
    page.goto(f"/-/internal/jobs/{job_id}")
    expect(page.get_by_text("2 of 4 links are broken")).to_be_visible()
    shoot(page, "job")
    page.goto("/-/internal/jobs")
    shoot(page, "jobs")


def main():
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        plugins = folder / "plugins"
        plugins.mkdir()
        (plugins / "job_plugin.py").write_text(JOB_PLUGIN)
        args = ["--root", "--plugins-dir", str(plugins)]
        with (
            serve(folder, [sample_data(folder)], args=args) as server,
            sync_playwright() as playwright,
        ):
            browser = launch_chromium(playwright)
            context = browser.new_context(
                base_url=server.url,
                viewport={"width": 1100, "height": 720},
                timezone_id="Europe/London",
            )
            cookie = server.cookies_for("root")["ds_actor"]
            context.add_cookies([{"name": "ds_actor", "value": cookie, "url": server.url}])
            page = context.new_page()
            page.set_default_timeout(15_000)
            flows(page)
            browser.close()


if __name__ == "__main__":
    main()
