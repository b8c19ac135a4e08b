"""Real Chromium against a real `datasette serve`: the bookmark and short-link flows as a person
does them, by mouse and by keyboard; the QR code read back from a screenshot; axe-core."""

import re
import shutil
import subprocess

import pytest
from conftest import create_data_db
from datasette_internal_db.testing import launch_chromium, serious_violations, serve
from playwright.sync_api import expect, sync_playwright

XSS_TITLE = "<img src=x onerror=window.__xss=1>French places"
XSS_NOTE = "<script>window.__xss=2</script>**Bon** voyage [x](javascript:window.__xss=3)"
NO_CLIPBOARD = "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined})"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("browser")
    data_db = create_data_db(tmp_path / "data.db")
    with serve(tmp_path, [data_db], plugins=["datasette-internal-bookmarks"]) as server:
        yield server


@pytest.fixture(scope="module")
def browser(server):
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def new_page(browser, server, init_script=None):
    context = browser.new_context(base_url=server.url, timezone_id="America/New_York")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    cookie = server.cookies_for("alice")["ds_actor"]
    context.add_cookies([{"name": "ds_actor", "value": cookie, "url": server.url}])
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def page(browser, server):
    page = new_page(browser, server)
    yield page
    page.context.close()


def api(page, method, path, data=None):
    """The JSON API with the page's cookies, as a script on the page would call it."""
    response = page.request.fetch(path, method=method, data=data)
    assert response.ok, response.text()
    return response.json()


def create_link(page, target, **fields):
    return api(page, "POST", "/-/l/api/links", {"target": target, **fields})["link"]


def open_action_menu(page):
    page.locator("details.actions-menu-links summary").click()


def copy_short_link(page):
    open_action_menu(page)
    page.get_by_role("menuitem", name="Copy short link").click()
    return page.locator(".short-link-toast")


def test_bookmark_a_filtered_table_and_return_to_it(page):
    page.goto("/data/places?country=fr&_sort=name")
    open_action_menu(page)
    page.get_by_role("menuitem", name="Bookmark this page").click()
    expect(page.locator("#bookmark-form")).to_be_visible()
    page.get_by_label("Title").fill(XSS_TITLE)
    page.get_by_label("Note").fill(XSS_NOTE)
    page.get_by_label("Tags").fill("travel, <svg onload=window.__xss=4>")
    page.get_by_role("button", name="Save bookmark").click()

    expect(page.locator(".message-info")).to_have_text("Bookmark saved")
    page.locator("#bookmark-tag").fill("travel")
    page.get_by_role("button", name="Filter").click()
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


def test_link_rot_scan_lists_broken_bookmarks_with_links_to_fix_them(page):
    api(page, "POST", "/-/bookmarks/api/bookmarks", {"url": "/data/places/99", "title": "Row 99"})
    page.goto("/-/bookmarks")
    page.get_by_role("button", name="Check bookmarks for link rot").click()
    expect(page.locator(".datasette-internal-job")).to_have_attribute("data-status", "done")
    page.get_by_role("link", name="See which bookmarks are broken").click()
    expect(page.locator("h1")).to_have_text("Job: link-rot-scan")
    expect(page.get_by_text(re.compile(r"^1 of \d+ bookmarks broken$"))).to_be_visible()
    result = page.locator(".job-result li")
    expect(result).to_have_count(1)
    expect(result).to_contain_text("row 99 no longer exists in places")
    result.get_by_role("link", name="Row 99").click()
    expect(page.locator("h1")).to_have_text("Edit bookmark")
    page.get_by_role("button", name="Delete bookmark").click()
    expect(page.locator(".message-info")).to_have_text("Bookmark deleted: Row 99")
    expect(page.get_by_role("link", name="Row 99")).to_have_count(0)


def test_copy_short_link_makes_one_link_per_view_and_copies_it(page):
    page.goto("/data/places?country=de")
    toast = copy_short_link(page)
    expect(toast.locator(".di-copied")).to_have_text("Copied!")
    short_url = toast.locator("a.short-link-url").inner_text()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/-/l/[A-Za-z0-9]{7}", short_url)
    assert page.evaluate("navigator.clipboard.readText()") == short_url

    page.goto(short_url)
    page.wait_for_url("**/data/places?country=de")
    expect(page.locator("table.rows-and-columns tbody tr")).to_have_count(1)
    # The same view again (paging noise aside): the same link, not a second one.
    page.goto("/data/places?country=de&_size=10")
    toast = copy_short_link(page)
    expect(toast.locator(".di-copied")).to_have_text("Copied!")
    expect(toast.locator("a.short-link-url")).to_have_text(short_url)
    page.goto(short_url)
    page.wait_for_url("**/data/places?country=de")

    code = short_url.rsplit("/", 1)[1]
    page.goto("/-/links")
    expect(page.locator(f"tr[data-code='{code}'] td.visits")).to_have_text("2")


def test_copy_short_link_where_there_is_no_clipboard(browser, server):
    page = new_page(browser, server, init_script=NO_CLIPBOARD)
    try:
        page.goto("/data/places?country=it")
        toast = copy_short_link(page)
        expect(toast.locator(".di-copied")).to_have_text("Press Ctrl+C to copy")
        field = toast.get_by_role("textbox", name="Link to copy")
        short_url = toast.locator("a.short-link-url").inner_text()
        expect(field).to_have_value(short_url)
        expect(field).to_be_focused()
        selected = page.evaluate("window.getSelection().toString() || document.activeElement.value")
        assert selected == short_url
    finally:
        page.context.close()


def test_edit_every_field_with_expiry_in_local_time(page):
    link = create_link(page, "/data/places", title="Places")
    page.goto(f"/-/links/{link['code']}")
    page.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit short link")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("In your time zone (America/New_York)")).to_be_visible()
    dialog.get_by_label("Target path").fill("//evil.example")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_contain_text("must not start with //")
    dialog.get_by_label("Target path").fill("/data/places?country=it")
    dialog.get_by_label("Title").fill("Italian places")
    dialog.get_by_label("Expires").fill("2027-01-15T17:00")
    dialog.get_by_label("Max visits").fill("5")
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator(".link-target")).to_have_text("/data/places?country=it")

    stored = api(page, "GET", f"/-/l/api/links/{link['code']}")["link"]
    # 5 pm in New York is 10 pm UTC.
    assert stored["expires_at"] == "2027-01-15T22:00:00.000+00:00"
    assert (stored["title"], stored["max_visits"]) == ("Italian places", 5)
    expires = page.locator(".di-summary time")
    expect(expires.nth(0)).to_have_attribute("title", re.compile(r"Jan 15, 2027.*5:00.*PM EST"))
    page.get_by_role("button", name="Edit").click()
    expect(dialog.get_by_label("Expires")).to_have_value("2027-01-15T17:00")


def zbar_decode(path):
    if shutil.which("zbarimg") is None:
        pytest.fail("zbarimg not found: apt-get install zbar-tools (nox -s tests installs it)")
    result = subprocess.run(["zbarimg", "-q", "--raw", str(path)], capture_output=True, text=True)
    return result.stdout.strip()


def test_qr_code_scans_back_to_the_short_url(page, tmp_path):
    link = create_link(page, "/data/places/1")
    page.goto(f"/-/links/{link['code']}")
    image = page.get_by_role("img", name=f"QR code of {link['url']}")
    expect(image).to_be_visible()
    page.wait_for_function("document.querySelector('img.qr').naturalWidth > 0")
    image.screenshot(path=tmp_path / "on-page.png")
    assert zbar_decode(tmp_path / "on-page.png") == link["url"]
    # Opened on its own, as a file: a browser must draw it, not show its markup.
    for kind in ("svg", "png"):
        page.goto(f"{link['path']}/qr.{kind}")
        page.screenshot(path=tmp_path / f"alone.{kind}.png")
        assert zbar_decode(tmp_path / f"alone.{kind}.png") == link["url"], kind


def test_every_page_has_no_serious_violations_beyond_datasettes_own(page):
    link = create_link(page, "/data/places?country=fr", title="French places")
    saved = api(
        page,
        "POST",
        "/-/bookmarks/api/bookmarks",
        {"url": "/data/places?country=it", "note": "*Pasta*", "tags": ["eu"], "shared": True},
    )["bookmark"]
    page.goto("/data/places")
    baseline = serious_violations(page)
    paths = [
        "/-/bookmarks",
        "/-/bookmarks?q=pasta",
        "/-/bookmarks/new?url=/data/places&title=places",
        f"/-/bookmarks/{saved['id']}/edit",
        "/-/links",
        "/-/links?target=/data/places",
        f"/-/links/{link['code']}",
        "/-/l/not-a-code",
    ]
    for path in paths:
        page.goto(path)
        assert serious_violations(page) - baseline == set(), path
    # The create form, a refusal, then the notice of a new link with its copy button.
    page.goto("/-/links?target=//evil.example")
    page.get_by_role("button", name="Create short link").click()
    expect(page.get_by_role("alert").filter(has_text="must not start with //")).to_be_visible()
    assert serious_violations(page) - baseline == set(), "a refused link"
    page.locator("#create-link-target").fill("/data/places?country=de")
    page.get_by_role("button", name="Create short link").click()
    expect(page.locator(".created")).to_contain_text("Created")
    assert serious_violations(page) - baseline == set(), "a new link"
    page.goto(f"/-/links/{link['code']}")
    for button, dialog in [("Edit", "Edit short link"), ("Delete", "Delete short link")]:
        page.get_by_role("button", name=button, exact=True).click()
        expect(page.get_by_role("dialog", name=dialog)).to_be_visible()
        assert serious_violations(page) - baseline == set(), dialog
        page.keyboard.press("Escape")
    page.goto("/data/places")
    expect(copy_short_link(page).locator(".di-copied")).to_have_text("Copied!")
    assert serious_violations(page) - baseline == set(), "the short link's notice"


def test_main_flows_by_keyboard(page):
    # Bookmark a page from the action menu.
    page.goto("/data/places?country=it")
    page.locator("details.actions-menu-links summary").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("menuitem", name="Bookmark this page")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/-/bookmarks/new?**")
    page.get_by_label("Title").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("Italy by keyboard")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Italy by keyboard", exact=True)).to_be_visible()

    # Copy a short link from the menu.
    page.goto("/data/places?country=it")
    page.locator("details.actions-menu-links summary").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("menuitem", name="Bookmark this page")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="Copy short link")).to_be_focused()
    page.keyboard.press("Enter")
    toast = page.locator(".short-link-toast")
    expect(toast.locator(".di-copied")).to_have_text("Copied!")
    expect(toast.locator("a.short-link-url")).to_be_focused()

    # Follow it to its page, edit it in the dialog, leave the dialog with Escape.
    page.keyboard.press("Enter")
    page.wait_for_url("**/-/links/*")
    edit = page.get_by_role("button", name="Edit")
    edit.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Edit short link")
    expect(dialog.get_by_label("Target path")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("Italy, short")
    page.keyboard.press("Enter")
    expect(page.locator(".di-summary")).to_contain_text("Italy, short")
    # Saving reloads the page: its deferred script wires the Edit button only at "load".
    page.wait_for_load_state("load")
    edit.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(edit).to_be_focused()
