"""Screenshots of the webhooks pages for the README: a real `datasette serve` with sample data,
driven in Chromium. Run by `nox -s screenshots` (or `python plugins/webhooks/tests/screenshots.py`
in a venv with the package's test extras); writes plugins/webhooks/docs/*.png."""

import datetime
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

import httpx
from conftest import Receiver
from datasette_internal_db.testing import launch_chromium, serve
from playwright.sync_api import expect, sync_playwright
from standardwebhooks.webhooks import Webhook

DOCS = Path(__file__).resolve().parent.parent / "docs"
CONFIG = {
    "plugins": {
        "datasette-internal-webhooks": {
            "allow_networks": ["127.0.0.1/32"],
            # Saved without resolving: this machine may have no DNS. Nothing is sent there.
            "allow_hosts": ["audit.example.com"],
            "poll_interval": 0.1,
        }
    }
}


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
    page.wait_for_timeout(400)  # the dialog's opening animation, relative times rendered
    page.screenshot(path=str(DOCS / f"{name}.png"))
    print(f"wrote {DOCS / name}.png")


def post(page, path, body=None):
    return page.evaluate(
        """([path, body]) => fetch(path, {method: "POST", headers: {"content-type":
        "application/json"}, body: JSON.stringify(body)}).then(r => r.json())""",
        [path, body or {}],
    )


def send_incoming(server, slug, secret, message_id, payload):
    body = json.dumps(payload)
    now = datetime.datetime.now(datetime.timezone.utc)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
    }
    httpx.post(f"{server.url}/-/webhooks/in/{slug}", content=body, headers=headers)


def flows(page, server, receiver):
    page.goto("/-/webhooks")
    post(
        page,
        "/-/webhooks/api/endpoints",
        {
            "url": "https://audit.example.com/datasette",
            "description": "Audit trail",
            "event_types": ["create-table", "drop-table"],
        },
    )
    incoming = post(
        page,
        "/-/webhooks/api/incoming",
        {
            "slug": "partner-crm",
            "scheme": "standard",
            "description": "Contacts from the CRM",
        },
    )

    page.goto("/-/webhooks")
    page.get_by_role("button", name="Add endpoint").click()
    page.fill("#endpoint-url", "http://10.1.2.3/hook")
    page.fill("#endpoint-events", "insert-rows update-row")
    page.locator("#add-endpoint button[type=submit]").click()
    expect(page.locator("#add-endpoint .webhooks-error")).to_contain_text("allow_networks")
    shoot(page, "add-endpoint-refused")

    page.fill("#endpoint-url", receiver.url)
    page.fill("#endpoint-description", "Sightings to the field team")
    page.locator("#add-endpoint button[type=submit]").click()
    expect(page.locator("#webhooks-new-secret .webhooks-secret")).to_contain_text("whsec_")
    shoot(page, "index-new-endpoint")

    page.locator("#webhooks-new-secret a.webhooks-open").click()
    for species, status in (("badger", 200), ("osprey", 200), ("beaver", 503)):
        receiver.respond = lambda number, status=status: (status, {}, 0)
        page.evaluate(
            """(species) => fetch("/wildlife/sightings/-/insert", {method: "POST",
            headers: {"content-type": "application/json"},
            body: JSON.stringify({row: {species, river: "Severn"}})})""",
            species,
        )
        receiver.wait_for(len(receiver.received) + 1)
    receiver.respond = lambda number: (200, {}, 0)
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator(".webhooks-status")).to_contain_text("delivered", timeout=20_000)
    shoot(page, "endpoint")

    page.get_by_role("button", name="Rotate secret").click()
    page.locator("#rotate-secret button[data-then=secret]").click()
    expect(page.locator("#rotated-secret .webhooks-secret")).to_contain_text("whsec_")
    shoot(page, "rotate-secret")

    for number, payload in enumerate(
        [{"contact": "Ada", "stage": "lead"}, {"contact": "Grace", "stage": "customer"}]
    ):
        send_incoming(server, "partner-crm", incoming["secret"], f"msg_crm_{number}", payload)
    page.goto(f"/-/webhooks/incoming/{incoming['incoming']['id']}")
    shoot(page, "incoming")


def main():
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, Receiver() as receiver:
        folder = Path(folder)
        options = dict(plugins=["datasette-internal-webhooks"], config=CONFIG, args=["--root"])
        with (
            serve(folder, [sample_data(folder)], **options) as server,
            sync_playwright() as playwright,
        ):
            browser = launch_chromium(playwright)
            context = browser.new_context(
                base_url=server.url,
                viewport={"width": 1200, "height": 800},
                timezone_id="Europe/London",
            )
            cookie = server.cookies_for("root")["ds_actor"]
            context.add_cookies([{"name": "ds_actor", "value": cookie, "url": server.url}])
            page = context.new_page()
            page.set_default_timeout(15_000)
            flows(page, server, receiver)
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
