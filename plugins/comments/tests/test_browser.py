import sqlite3

import httpx
from datasette_internal_db.testing import launch_chromium, serve
from playwright.sync_api import expect, sync_playwright

from .conftest import CONFIG, make_files

XSS = "<img src=x onerror=alert('body')> [link](javascript:alert('link')) **bold** @bob"


def test_comment_flow_on_a_table_page(tmp_path):
    files = make_files(tmp_path)
    conn = sqlite3.connect(files[0])
    conn.execute("insert into items values (4, '<img src=x onerror=alert(''label'')>', 9)")
    conn.commit()
    conn.close()
    with (
        serve(
            tmp_path, files, plugins=["datasette-internal-comments"], config=CONFIG, args=["--root"]
        ) as server,
        sync_playwright() as p,
    ):
        browser = launch_chromium(p)
        context = browser.new_context()
        context.add_cookies(
            [
                {
                    "name": "ds_actor",
                    "value": server.cookies_for("alice")["ds_actor"],
                    "url": server.url,
                }
            ]
        )
        page = context.new_page()
        alerts = []

        def on_dialog(dialog):
            # The delete button asks for confirmation; anything else would be injected script.
            if dialog.type == "confirm" and dialog.message == "Delete this comment?":
                dialog.accept()
            else:
                alerts.append(dialog.message)
                dialog.dismiss()

        page.on("dialog", on_dialog)

        page.goto(server.url + "/data/items")
        badge = page.locator('.comment-badge[data-row="1"]')
        expect(badge).to_have_text("💬")
        badge.click()
        panel = page.locator("dialog.comments-dialog .comments-panel")
        expect(panel).to_contain_text("No comments yet")

        panel.locator(".comment-new textarea").fill("Is this the right apple? " + XSS)
        panel.locator(".comment-new button[type=submit]").click()
        thread = page.locator("dialog.comments-dialog .comment-thread").first
        expect(thread.locator(".comment-body strong")).to_have_text("bold")
        expect(badge).to_have_text("💬 1")

        reply_box = thread.locator(".comment-reply textarea")
        reply_box.fill("Thanks @al")
        suggestion = thread.locator(".comment-mention-suggestions button")
        expect(suggestion).to_have_text("@alice")
        suggestion.click()
        expect(reply_box).to_have_value("Thanks @alice ")

        reply_box.fill("Yes, it is")
        thread.locator(".comment-reply button").click()
        expect(thread.locator(".comment")).to_have_count(2)

        thread.locator(".comment").first.locator('button[value="+1"]').click()
        expect(thread.locator(".comment").first.locator(".comment-reacted")).to_have_count(1)
        expect(
            thread.locator(".comment").first.locator('button[value="+1"] .comment-reaction-count')
        ).to_have_text("1")

        first = thread.locator(".comment").first
        first.locator(".comment-edit summary").click()
        first.locator(".comment-edit textarea").fill("Is this the right *pear*?")
        first.locator(".comment-edit button").click()
        expect(thread.locator(".comment").first.locator(".comment-body em")).to_have_text("pear")
        expect(thread.locator(".comment").first.locator(".comment-edited")).to_be_visible()

        thread.locator(".comment").nth(1).locator(".comment-delete button").click()
        expect(thread.locator(".comment").nth(1).locator(".comment-tombstone")).to_have_text(
            "This comment was deleted."
        )

        thread.locator(".comment-resolve button").click()
        expect(thread.locator(".comment-status-resolved")).to_contain_text("Resolved by alice")
        expect(badge).not_to_have_class("comment-badge comment-badge-open")
        thread.locator(".comment-resolve button").click()
        expect(thread.locator(".comment-status-resolved")).to_have_count(0)
        expect(badge).to_have_class("comment-badge comment-badge-open")

        # a second thread, on one cell of the row
        panel.locator(".comment-new select[name=column]").select_option("price")
        panel.locator(".comment-new textarea").fill("This price is too low")
        panel.locator(".comment-new button[type=submit]").click()
        expect(page.locator("dialog.comments-dialog .comment-thread")).to_have_count(2)
        expect(badge).to_have_text("💬 2")
        page.locator(".comments-dialog-close").click()

        # change the cell through Datasette's write API, then see the thread marked outdated
        response = httpx.post(
            server.url + "/data/items/1/-/update",
            json={"update": {"price": 3.75}},
            cookies=server.cookies_for("root"),
        )
        assert response.status_code == 200, response.text
        page.reload()
        page.locator('.comment-badge[data-row="1"]').click()
        cell_thread = page.locator("dialog.comments-dialog .comment-thread").nth(1)
        expect(cell_thread.locator(".comment-status-outdated")).to_have_text("Outdated")
        expect(cell_thread.locator(".comment-anchor")).to_contain_text("1.5")
        expect(cell_thread.locator(".comment-anchor")).to_contain_text("3.75")
        page.locator(".comments-dialog-close").click()

        # the row whose label is an XSS payload
        page.locator('.comment-badge[data-row="4"]').click()
        panel = page.locator("dialog.comments-dialog .comments-panel")
        panel.locator(".comment-new textarea").fill("Odd name")
        panel.locator(".comment-new button[type=submit]").click()
        expect(page.locator("dialog.comments-dialog .comment-thread")).to_have_count(1)

        # an actor whose id is markup mentions bob in a reply on that row
        evil_actor = server.cookies_for("<img src=x onerror=alert('actor')>")
        thread_id = page.locator("dialog.comments-dialog .comment-thread").get_attribute(
            "data-thread-id"
        )
        response = httpx.post(
            f"{server.url}/-/comments/api/threads/{thread_id}/comments",
            json={"body": "<svg onload=alert('svg')> @bob [x](javascript:alert('m'))"},
            cookies=evil_actor,
        )
        assert response.status_code == 200, response.text

        # the row page shows the same threads in its panel, rendered on the server
        page.goto(server.url + "/data/items/1")
        expect(page.locator("#comments .comment-thread")).to_have_count(2)
        page.goto(server.url + "/data/items/4")
        expect(page.locator("#comments .comment")).to_have_count(2)
        expect(page.locator("#comments .comment-author").nth(1)).to_have_text(
            "<img src=x onerror=alert('actor')>"
        )
        page.goto(server.url + "/-/comments")
        expect(page.locator(".comment-entry")).to_have_count(4)  # the deleted reply is gone

        assert alerts == []
        assert (
            page.evaluate(
                "document.querySelectorAll('.comment-entry img, .comment-entry svg').length"
            )
            == 0
        )
        browser.close()
