"""Chromium against a real `datasette serve`: the flows a person clicks through, by keyboard
where it matters, and axe-core on every page (no serious violation beyond Datasette's own)."""

import datetime
import re
import sqlite3

import pytest
from conftest import Receiver
from datasette_internal_db.testing import launch_chromium, serious_violations, serve
from playwright.sync_api import expect, sync_playwright

CONFIG = {
    "plugins": {
        "datasette-internal-webhooks": {"allow_networks": ["127.0.0.1/32"], "poll_interval": 0.1}
    }
}


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("browser")
    data = tmp_path / "data.db"
    conn = sqlite3.connect(data)
    conn.execute("create table species (id integer primary key, name text)")
    conn.execute("insert into species (name) values ('otter')")
    conn.commit()
    conn.close()
    options = dict(plugins=["datasette-internal-webhooks"], config=CONFIG, args=["--root"])
    with serve(tmp_path, [data], **options) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(base_url=server.url, timezone_id="America/New_York")
        cookie = server.cookies_for("root")["ds_actor"]
        context.add_cookies([{"name": "ds_actor", "value": cookie, "url": server.url}])
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def post(page, path, body=None):
    return page.evaluate(
        """([path, body]) => fetch(path, {method: "POST", headers: {"content-type":
        "application/json"}, body: JSON.stringify(body)}).then(r => r.json())""",
        [path, body or {}],
    )


def add_endpoint(page, url, **fields):
    data = post(page, "/-/webhooks/api/endpoints", {"url": url, **fields})
    assert data["ok"], data
    return data["endpoint"], data["secret"]


def test_add_an_endpoint_by_keyboard_and_see_it_at_once_with_its_secret(browser_page, receiver):
    page = browser_page
    page.goto("/-/webhooks")
    expect(page.locator("#webhooks-outgoing")).to_contain_text("No endpoints yet.")
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Add endpoint").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Add an outgoing endpoint")
    expect(dialog).to_be_visible()
    expect(page.locator("#endpoint-url")).to_be_focused()
    url = receiver.url + "?keyboard"
    page.keyboard.type(url)
    page.keyboard.press("Tab")
    page.keyboard.type("Typed, not clicked")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("insert-rows")
    page.keyboard.press("Enter")

    notice = page.locator("#webhooks-new-secret")
    expect(notice).to_be_visible()
    expect(notice).to_be_focused()
    expect(notice.locator(".webhooks-secret")).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/=]+$"))
    expect(dialog).to_be_hidden()
    rows = page.locator("#webhooks-outgoing tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Typed, not clicked")
    expect(page.locator("#webhooks-outgoing")).not_to_contain_text("No endpoints yet.")
    assert page.evaluate("window.notReloaded") is True, "the page was reloaded"

    receiver.secrets = [notice.locator(".webhooks-secret").inner_text()]
    page.keyboard.press("Tab")  # from the notice to its copy button
    expect(notice.get_by_role("button", name="Copy secret")).to_be_focused()
    notice.get_by_role("link", name="Open the endpoint").click()
    expect(page.locator("h1")).to_have_text(url)
    # The heading is there before the deferred webhooks.js runs: a click then would do nothing.
    page.wait_for_load_state()
    before = len(receiver.received)
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator(".webhooks-status")).to_have_text(
        "Test event delivered (HTTP 200).", timeout=15_000
    )
    assert receiver.received[before]["verified"] is True


def test_a_refused_address_names_the_setting_in_the_dialog(browser_page):
    page = browser_page
    page.goto("/-/webhooks")
    page.get_by_role("button", name="Add endpoint").click()
    page.fill("#endpoint-url", "http://10.9.8.7/hook")
    page.locator("#add-endpoint button[type=submit]").click()
    error = page.locator("#add-endpoint .webhooks-error")
    expect(error).to_contain_text("non-public address")
    expect(error).to_contain_text("allow_networks")
    expect(page.locator("#add-endpoint")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#add-endpoint")).to_be_hidden()


def test_redeliver_from_the_endpoint_page(browser_page, receiver):
    page = browser_page
    endpoint, _ = add_endpoint(page, receiver.url + "?redeliver", event_types=["insert-rows"])
    page.goto(f"/-/webhooks/endpoints/{endpoint['id']}")
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator(".webhooks-status")).to_contain_text("delivered")
    row = page.locator(".webhooks-deliveries tbody tr").first
    expect(row.locator(".delivery-status")).to_have_text("succeeded")
    expect(row.locator(".delivery-response")).to_contain_text("HTTP 200")
    expect(row.locator(".delivery-response")).to_contain_text("status 200")
    sent = [r for r in receiver.received if r["query"] == "redeliver"]
    before = len(receiver.received)

    receiver.respond = lambda number: (503, {}, 0)
    button = row.get_by_role("button", name=re.compile(r"^Redeliver delivery \d+$"))
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".webhooks-status")).to_contain_text("pending: HTTP 503")
    receiver.respond = lambda number: (200, {}, 0)
    row = page.locator(".webhooks-deliveries tbody tr").first
    expect(row.locator(".delivery-status")).to_contain_text("pending")
    expect(row.locator(".delivery-response")).to_contain_text("HTTP 503")
    expect(row.get_by_role("button", name=re.compile("^Redeliver"))).to_be_focused()
    again = receiver.received[before]
    assert again["headers"]["webhook-id"] == sent[0]["headers"]["webhook-id"]


def test_disabled_by_410_enabled_again_and_failed_ones_redelivered(browser_page, receiver):
    page = browser_page
    endpoint, _ = add_endpoint(page, receiver.url + "?gone", event_types=["insert-rows"])
    page.goto(f"/-/webhooks/endpoints/{endpoint['id']}")
    receiver.respond = lambda number: (410, {}, 0)
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator(".webhooks-status")).to_contain_text("failed")
    state = page.locator(".endpoint-state")
    expect(state).to_contain_text("410")
    receiver.respond = lambda number: (200, {}, 0)
    page.get_by_role("button", name="Enable").click()
    expect(state).to_have_text("active")

    page.get_by_role("button", name="Redeliver failed…").click()
    yesterday = datetime.datetime.now() - datetime.timedelta(days=1)  # the reader's local time
    page.fill("#redeliver-since", yesterday.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#redeliver-failed button[type=submit]").click()
    expect(page.locator(".datasette-internal-job .job-text")).to_have_text("done: 1 / 1")


def test_rotate_a_secret_in_a_dialog(browser_page, receiver):
    page = browser_page
    endpoint, old = add_endpoint(page, receiver.url + "?rotate", event_types=["insert-rows"])
    page.goto(f"/-/webhooks/endpoints/{endpoint['id']}")
    page.get_by_role("button", name="Rotate secret").click()
    dialog = page.get_by_role("dialog", name="Rotate the signing secret")
    dialog.get_by_role("button", name="Rotate secret").click()
    secret = dialog.locator(".webhooks-secret")
    expect(secret).to_have_text(re.compile("^whsec_"))
    assert secret.inner_text() != old
    expect(dialog.get_by_role("button", name="Rotate secret")).to_be_hidden()


def test_every_page_has_no_serious_violations_beyond_datasettes_own(browser_page, receiver):
    page = browser_page
    page.goto("/data/species")
    baseline = serious_violations(page)
    endpoint, _ = add_endpoint(page, receiver.url + "?axe", event_types=["insert-rows"])
    incoming = post(page, "/-/webhooks/api/incoming", {"slug": "axe-in", "scheme": "bearer"})
    post(page, f"/-/webhooks/api/endpoints/{endpoint['id']}/test")
    pages = [
        ("/-/webhooks", None),
        ("/-/webhooks", "Add endpoint"),
        ("/-/webhooks", "Add incoming endpoint"),
        (f"/-/webhooks/endpoints/{endpoint['id']}", None),
        (f"/-/webhooks/endpoints/{endpoint['id']}", "Rotate secret"),
        (f"/-/webhooks/endpoints/{endpoint['id']}", "Redeliver failed…"),
        (f"/-/webhooks/endpoints/{endpoint['id']}", "Delete"),
        (f"/-/webhooks/incoming/{incoming['incoming']['id']}", None),
        (f"/-/webhooks/incoming/{incoming['incoming']['id']}", "Rotate secret"),
    ]
    for path, dialog in pages:
        page.goto(path)
        if dialog:
            page.get_by_role("button", name=dialog, exact=True).click()
            expect(page.locator("dialog[open]")).to_be_visible()
        assert serious_violations(page) - baseline == set(), (path, dialog)


def test_a_browser_without_permission_gets_an_html_403(browser_page):
    page = browser_page
    context = page.context.browser.new_context(base_url=page.url.split("/-/")[0])
    anonymous = context.new_page()
    response = anonymous.goto("/-/webhooks")
    assert response.status == 403
    expect(anonymous.locator("h1")).to_have_text("Error 403")
    expect(anonymous.locator(".di-error")).to_contain_text("webhooks-view-log")
    context.close()
