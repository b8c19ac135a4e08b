"""Stored XSS, checked in a real browser: every payload of corpora.XSS_PAYLOADS is stored
through each plugin's API and in core's runtime settings, then every page that shows it is
opened in headless Chromium. No payload may run (window.__xss stays unset, no dialog opens), and
the payload's marker must be on the page, which proves the text was rendered, inert.
"""

import json

import pytest
from corpora import XSS_MARKERS, XSS_PAYLOADS
from datasette_internal_db.testing import launch_chromium
from playwright.sync_api import sync_playwright
from reliability_helpers import (
    client,
    cookie_header,
    create_bookmark,
    create_comment_thread,
    create_endpoint,
    create_link,
    make_data_db,
    serve_all,
    tracebacks,
)


def store_payloads(server):
    """Every payload in every place a plugin stores user text; returns pages to open."""
    alice, root = server.cookies_for("alice"), server.cookies_for("root")
    pages = []
    with client(server) as http:
        threads = [
            create_comment_thread(http, alice, payload + " @bob", row=str(n % 5 + 1))
            for n, payload in enumerate(XSS_PAYLOADS)
        ]
        pages += [("alice", "/-/comments"), ("bob", "/-/comments/inbox")]
        pages += [
            ("alice", f"/-/comments/threads/{threads[0]['id']}"),
            ("alice", "/data/species/1"),
        ]
        for n, payload in enumerate(XSS_PAYLOADS):
            create_bookmark(
                http, alice, f"/data/species?xss={n}", title=payload, note=payload, shared=True
            )
            create_link(http, alice, f"/data/species?xss={n}", title=payload[:200])
        pages += [("alice", "/-/bookmarks"), ("bob", "/-/bookmarks"), ("alice", "/-/links")]
        endpoints = [
            create_endpoint(http, root, f"https://example.com/{n}", description=payload)
            for n, payload in enumerate(XSS_PAYLOADS)
        ]
        pages += [("root", "/-/webhooks")]
        pages += [("root", f"/-/webhooks/endpoints/{endpoints[0]['id']}")]
        response = http.post(
            "/-/webhooks/api/incoming",
            json={"slug": "xss-in", "scheme": "bearer", "description": XSS_PAYLOADS[0]},
            headers=cookie_header(root),
        )
        assert response.status_code == 201, response.text
        incoming = response.json()
        received = http.post(
            "/-/webhooks/in/xss-in",
            content=json.dumps({"payloads": XSS_PAYLOADS}),
            headers={
                "authorization": f"Bearer {incoming['secret']}",
                "content-type": "application/json",
            },
        )
        assert received.status_code < 300, received.text
        pages += [("root", f"/-/webhooks/incoming/{incoming['incoming']['id']}")]
        response = http.post(
            "/-/internal/settings",
            json={
                "plugin": "datasette-internal-comments",
                "key": "enabled",
                "value": ["*", *XSS_PAYLOADS],
            },
            headers=cookie_header(root),
        )
        assert response.status_code == 200, response.text
        pages += [("root", "/-/internal/settings")]
    return pages


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("xss")
    server = serve_all(tmp_path, make_data_db(tmp_path / "data.db"))
    try:
        yield server, store_payloads(server)
    finally:
        server.stop()


def test_no_stored_payload_runs_in_the_browser(stored):
    server, pages = stored
    ran, dialogs, unrendered, seen = [], [], [], set()
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for actor, path in pages:
                context = browser.new_context()
                context.add_cookies(
                    [
                        {"name": "ds_actor", "value": value, "url": server.url}
                        for value in server.cookies_for(actor).values()
                    ]
                )
                page = context.new_page()
                page.on(
                    "dialog", lambda dialog, path=path: (dialogs.append(path), dialog.dismiss())
                )
                response = page.goto(server.url + path, wait_until="load")
                assert response.status == 200, (path, response.status)
                page.mouse.move(10, 10)
                page.wait_for_timeout(50)
                if page.evaluate("() => window.__xss") is not None:
                    ran.append((path, page.evaluate("() => window.__xss")))
                # The page source, not only its visible text: some pages show text in inputs.
                html = page.content()
                markers = {marker for marker in XSS_MARKERS if marker in html}
                if not markers:
                    unrendered.append(path)
                seen |= markers
                page.close()
        finally:
            browser.close()
    assert ran == []
    assert dialogs == []
    assert unrendered == []
    assert seen == set(XSS_MARKERS)
    assert tracebacks(server) == ""
