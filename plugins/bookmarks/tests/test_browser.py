"""Real Chromium against a real `datasette serve`: the whole bookmark and short-link flows."""

import pytest
from conftest import create_data_db
from datasette_internal_db.testing import launch_chromium, serve
from playwright.sync_api import expect, sync_playwright

XSS_TITLE = "<img src=x onerror=window.__xss=1>French places"
XSS_NOTE = "<script>window.__xss=2</script>**Bon** voyage [x](javascript:window.__xss=3)"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("browser")
    data_db = create_data_db(tmp_path / "data.db")
    with (
        serve(tmp_path, [data_db], plugins=["datasette-internal-bookmarks"]) as server,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        context = browser.new_context(base_url=server.url)
        cookie = server.cookies_for("alice")["ds_actor"]
        context.add_cookies([{"name": "ds_actor", "value": cookie, "url": server.url}])
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        browser.close()


def test_bookmark_a_filtered_table_and_return_to_it(page):
    page.goto("/data/places?country=fr&_sort=name")
    page.locator("details.actions-menu-links summary").click()
    page.get_by_role("menuitem", name="Bookmark this page").click()
    expect(page.locator("#bookmark-form")).to_be_visible()
    page.fill("input[name=title]", XSS_TITLE)
    page.fill("textarea[name=note]", XSS_NOTE)
    page.fill("input[name=tags]", "travel, <svg onload=window.__xss=4>")
    page.click("#bookmark-form input[type=submit]")

    page.goto("/-/bookmarks")
    page.fill("#bookmark-search input[name=tag]", "travel")
    page.click("#bookmark-search input[type=submit]")
    link = page.locator("a.bookmark-link")
    expect(link).to_have_count(1)
    expect(link).to_have_text(XSS_TITLE)
    expect(page.locator(".bookmark .note strong")).to_have_text("Bon")
    expect(page.locator(".bookmark .tag").nth(1)).to_have_text("<svg onload=window.__xss=4>")
    assert page.evaluate("window.__xss") is None
    assert page.locator(".bookmark .note script").count() == 0

    link.click()
    page.wait_for_url("**/data/places?**")
    assert page.url.endswith("/data/places?_sort=name&country=fr")
    rows = page.locator("table.rows-and-columns tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Lyon")
    expect(rows.nth(1)).to_contain_text("Paris")
    assert page.evaluate("window.__xss") is None

    page.goto("/-/bookmarks")
    page.click("#scan-button")
    expect(page.locator(".datasette-internal-job")).to_have_attribute("data-status", "done")
    expect(page.locator(".datasette-internal-job .job-text")).to_have_text("done: 1 / 1")
    expect(page.locator(".bookmark .broken")).to_have_count(0)


def test_create_a_short_link_follow_it_and_see_the_count_rise(page):
    page.goto("/data/places?country=de")
    page.locator("details.actions-menu-links summary").click()
    page.get_by_role("menuitem", name="Short link to this page").click()
    expect(page.locator("#create-link input[name=target]")).to_have_value("/data/places?country=de")
    page.fill("#create-link input[name=title]", "German places")
    page.click("#create-link input[type=submit]")
    created = page.locator("a.created-link")
    expect(created).to_be_visible()
    short_url = created.get_attribute("href")
    code = short_url.rsplit("/", 1)[1]
    visits = page.locator(f"tr[data-code='{code}'] td.visits")
    expect(visits).to_have_text("0")

    created.click()
    page.wait_for_url("**/data/places?country=de")
    expect(page.locator("table.rows-and-columns tbody tr")).to_have_count(1)
    page.goto(short_url)
    page.wait_for_url("**/data/places?country=de")

    page.goto("/-/links")
    expect(visits).to_have_text("2")

    # Editing to an off-site target is refused and the refusal is shown.
    answers = iter(["//evil.example", "Evil"])
    alerts = []

    def on_dialog(dialog):
        if dialog.type == "prompt":
            dialog.accept(next(answers))
        else:
            alerts.append(dialog.message)
            dialog.accept()

    page.on("dialog", on_dialog)
    page.locator(f"tr[data-code='{code}'] button[data-action=edit]").click()
    for _ in range(50):
        if alerts:
            break
        page.wait_for_timeout(100)
    assert alerts and "//" in alerts[0]
    page.reload()
    expect(page.locator(f"tr[data-code='{code}'] code")).to_have_text("/data/places?country=de")
    page.remove_listener("dialog", on_dialog)

    page.goto(short_url + "/qr.svg")
    assert page.locator("svg").count() == 1
