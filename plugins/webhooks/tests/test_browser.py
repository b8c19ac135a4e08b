"""Browser: create an endpoint, send a test event, see the attempt, redeliver it."""

import datetime
import time

from datasette_internal_db.testing import launch_chromium, serve
from playwright.sync_api import expect, sync_playwright


def eventually(page, check, timeout=20):
    """Reload until ``check`` passes: a page shows the delivery log as of its last load."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def test_create_endpoint_send_test_event_and_redeliver(tmp_path, data_db, receiver):
    config = {
        "plugins": {
            "datasette-internal-webhooks": {
                "allow_networks": ["127.0.0.1/32"],
                "poll_interval": 0.1,
            }
        }
    }
    with (
        serve(
            tmp_path,
            [data_db],
            plugins=["datasette-internal-webhooks"],
            config=config,
            args=["--root"],
        ) as server,
        sync_playwright() as p,
    ):
        browser = launch_chromium(p)
        context = browser.new_context()
        context.add_cookies(
            [
                {"name": name, "value": value, "url": server.url}
                for name, value in server.cookies_for("root").items()
            ]
        )
        page = context.new_page()
        page.goto(server.url + "/-/webhooks")
        page.fill("input[name=url]", receiver.url)
        page.fill("input[name=description]", "Browser test")
        page.fill("input[name=event_types]", "insert-rows")
        page.click("text=Add endpoint")
        secret = page.locator(".webhooks-secret")
        expect(secret).to_contain_text("whsec_")
        receiver.secrets = [secret.inner_text()]
        page.click("a.webhooks-open")
        expect(page.locator("h1")).to_have_text(receiver.url)

        page.click("text=Send test event")
        receiver.wait_for(1)
        attempts_ok = page.locator(".webhooks-attempts tbody tr.attempt-ok")
        eventually(page, lambda: expect(attempts_ok).to_have_count(1, timeout=2000))
        expect(page.locator(".webhooks-attempts")).to_contain_text("200")
        assert receiver.received[0]["verified"] is True

        page.locator(".webhooks-deliveries button", has_text="Redeliver").first.click()
        receiver.wait_for(2)
        eventually(page, lambda: expect(attempts_ok).to_have_count(2, timeout=2000))
        first, second = receiver.received
        assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]

        # A 410 fails the next delivery and disables the endpoint; enable it, then redeliver
        # every failed delivery since yesterday as a job with a progress bar.
        receiver.respond = lambda number: (410, {}, 0) if number == 2 else (200, {}, 0)
        page.click("text=Send test event")
        receiver.wait_for(3)
        state = page.locator(".endpoint-state")
        eventually(page, lambda: expect(state).to_contain_text("410", timeout=2000))
        page.click("button:has-text('Enable')")
        expect(state).to_have_text("active")
        yesterday = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
        page.fill("input[name=since]", yesterday.strftime("%Y-%m-%dT%H:%M"))
        page.click("text=Redeliver failed")
        expect(page.locator(".datasette-internal-job .job-text")).to_have_text("done: 1 / 1")
        receiver.wait_for(4)
        browser.close()
