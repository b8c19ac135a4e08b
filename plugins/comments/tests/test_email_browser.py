"""The email pages in Chromium against a real `datasette serve` and a real SMTP server: chosen by
keyboard, no serious accessibility violation beyond Datasette's own table page, and the
unsubscribe link from a received email works for a visitor who is not signed in."""

import re
from urllib.parse import urlsplit

import httpx
import pytest
from datasette_internal_db.testing import serious_violations, serve
from playwright.sync_api import expect

from .conftest import make_files, press_until
from .email_helpers import SmtpServer, email_config


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


ADDRESSES_PLUGIN = """
from datasette import hookimpl


@hookimpl
def comments_actor_emails(datasette, actor_ids):
    return {actor_id: f"{actor_id}@example.com" for actor_id in actor_ids}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, smtp):
    tmp_path = tmp_path_factory.mktemp("email-browser")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "addresses.py").write_text(ADDRESSES_PLUGIN)
    with serve(
        tmp_path,
        make_files(tmp_path),
        plugins=["datasette-internal-comments"],
        config=email_config(smtp.port),
        args=["--root", "--plugins-dir", str(plugins)],
    ) as running:
        yield running


def test_preferences_outbox_and_unsubscribe_in_a_browser(server, smtp, page_as):
    page = page_as("alice")
    page.goto("/data/items")
    baseline = serious_violations(page)

    page.goto("/-/comments/inbox")
    page.get_by_role("link", name="Email notifications").click()
    expect(page.get_by_role("heading", name="Email notifications")).to_be_visible()
    assert serious_violations(page) - baseline == set(), "preferences"
    # each choice's label sits beside its radio (Datasette's form CSS puts labels on their own line)
    radio = page.locator("#preference-daily").bounding_box()
    label = page.locator("label[for=preference-daily]").bounding_box()
    assert label["x"] > radio["x"] + radio["width"]
    assert abs(label["y"] + label["height"] / 2 - radio["y"] - radio["height"] / 2) < 4
    # By keyboard: from "No email" the arrow key moves to and checks "each", then save.
    page.get_by_role("radio", name="No email").focus()
    page.keyboard.press("ArrowDown")
    press_until(page, "Tab", "button[type=submit]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("/-/comments/email$"))
    expect(page.locator("input[name=preference]:checked")).to_have_attribute("value", "each")

    root = page_as("root")
    root.goto("/-/comments/email/outbox")
    assert serious_violations(root) - baseline == set(), "outbox"
    root.get_by_label("Send a test email to").fill("alice@example.com")
    root.get_by_role("button", name="Send test email").click()
    (test_message,) = smtp.sink.wait_for(1)
    assert test_message["To"] == "alice@example.com"

    thread = {"database": "data", "table": "items", "body": "Is this right, @alice?"}
    response = httpx.post(
        server.url + "/-/comments/api/threads", json=thread, cookies=server.cookies_for("bob")
    )
    assert response.status_code == 200, response.text
    message = smtp.sink.wait_for(2)[1]
    assert message["To"] == "alice@example.com"

    # The link as the email carries it, pointed at this server instead of the public base URL.
    link = urlsplit(message["List-Unsubscribe"].strip("<>"))
    visitor = page_as(None)
    visitor.goto(f"{link.path}?{link.query}")
    assert serious_violations(visitor) - baseline == set(), "unsubscribe"
    visitor.get_by_role("button", name="Unsubscribe").click()
    expect(visitor.get_by_text("You will get no more comment emails")).to_be_visible()
    page.goto("/-/comments/email")
    expect(page.locator("input[name=preference]:checked")).to_have_attribute("value", "off")
