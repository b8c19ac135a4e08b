"""Real Chromium against a real `datasette serve`: core's pages look and behave like Datasette's."""

import re
import sqlite3

import pytest
from datasette_internal_db.testing import launch_chromium, serious_violations, serve
from playwright.sync_api import expect, sync_playwright

JOB_PLUGIN = """
import asyncio
from datasette import hookimpl
from datasette.utils.asgi import Response
from datasette_internal_db import jobs


async def work(job):
    for _ in range(3):
        await asyncio.sleep(0.3)
        await job.advance()
    return {"summary": "3 places checked", "items": [{"label": "Lyon", "href": "/data/places/1"}]}


async def start(datasette, request):
    job_id = await jobs.start(datasette, "example", "check-places", work, actor_id="root", total=3)
    return Response.json({"job_id": job_id})


async def styled(datasette, request):
    return Response.html(await datasette.render_template("styled.html", request=request))


@hookimpl
def register_routes():
    return [(r"^/-/start-job$", start), (r"^/-/styled$", styled)]
"""

# A plugin page with what Datasette's own CSS gets wrong for plugins: a hidden notice, and a
# dialog holding a form taller than the window.
STYLED_PAGE = """{% extends "datasette_internal_base.html" %}
{% block content %}
<div class="notice" hidden>Not yet</div>
{{ ui.button("Open", attrs={"data-di-open": "tall"}) }}
{% call ui.dialog("tall", "A tall form") %}<form>
<div class="modal-body">{% for n in range(40) %}<p>Line {{ n }}</p>{% endfor %}</div>
<div class="modal-footer"><button type="submit">Save</button></div></form>{% endcall %}
{% endblock %}
"""


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("browser")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "job_plugin.py").write_text(JOB_PLUGIN)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "styled.html").write_text(STYLED_PAGE)
    data = tmp_path / "data.db"
    conn = sqlite3.connect(data)
    conn.execute("create table places (id integer primary key, name text)")
    conn.execute("insert into places (name) values ('Lyon')")
    conn.commit()
    conn.close()
    args = ["--root", "--plugins-dir", str(plugins), "--template-dir", str(templates)]
    with serve(tmp_path, [data], args=args) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(base_url=server.url, timezone_id="America/New_York")
        cookie = server.cookies_for("root")["ds_actor"]
        context.add_cookies([{"name": "ds_actor", "value": cookie, "url": server.url}])
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        browser.close()


def test_times_are_relative_with_the_absolute_time_and_zone_in_the_tooltip(browser_page):
    page = browser_page
    page.goto("/-/internal")
    created = page.locator("time.di-time").first
    expect(created).to_have_text(re.compile(r"(now|seconds? ago|minutes? ago)"))
    assert created.get_attribute("title").endswith("EST")


def test_hidden_stays_hidden_and_a_tall_dialog_form_keeps_its_buttons_in_view(browser_page):
    page = browser_page
    page.set_viewport_size({"width": 800, "height": 500})
    page.goto("/-/styled")
    expect(page.locator(".notice")).to_be_hidden()
    page.get_by_role("button", name="Open").click()
    save = page.get_by_role("button", name="Save")
    expect(save).to_be_in_viewport()
    page.set_viewport_size({"width": 1280, "height": 720})


def test_core_pages_have_no_serious_violations_beyond_datasettes_own(browser_page):
    page = browser_page
    page.goto("/data/places")
    baseline = serious_violations(page)
    for path in ("/-/internal", "/-/internal/audit", "/-/internal/settings", "/-/internal/jobs"):
        page.goto(path)
        assert serious_violations(page) - baseline == set(), path


def test_settings_save_by_keyboard(browser_page):
    page = browser_page
    page.goto("/-/internal/settings")
    row = page.locator("tr[data-key=audit_retention_days]")
    field = row.locator("input.setting-value")
    field.fill("30")
    field.focus()
    page.keyboard.press("Tab")
    expect(row.locator("[data-setting=save]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(row.locator(".setting-result")).to_have_text("saved")
    page.reload()
    expect(page.locator("tr[data-key=audit_retention_days] input.setting-value")).to_have_value(
        "30"
    )


def test_job_page_shows_live_progress_then_the_result(browser_page):
    page = browser_page
    page.goto("/-/internal/jobs")
    job_id = page.evaluate("fetch('/-/start-job', {method: 'POST'}).then(r => r.json())")["job_id"]
    page.goto(f"/-/internal/jobs/{job_id}")
    expect(page.locator("h1")).to_have_text("Job: check-places")
    expect(page.locator(".job-result a")).to_have_text("Lyon")
    expect(page.locator("text=3 places checked")).to_be_visible()
    expect(page.locator(".job-text")).to_have_text("done: 3 / 3")
    page.goto("/-/internal/jobs")
    page.get_by_role("link", name="check-places").click()
    expect(page).to_have_url(re.compile(f"/-/internal/jobs/{job_id}$"))
