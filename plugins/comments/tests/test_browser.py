"""Real Chromium against a real `datasette serve`: the comment UI looks and behaves like
Datasette 1.0's own (dialog, buttons, icons, relative times), works by keyboard alone, draws the
table page's badges with the page, and adds no serious accessibility violation."""

import re
import sqlite3

import httpx
import pytest
from datasette_internal_db.testing import serious_violations, serve, settle
from playwright.sync_api import expect

from .conftest import CONFIG, make_files, press_until

# An auth plugin that knows people who never commented: mention autocomplete must offer them.
DIRECTORY_PLUGIN = """
from datasette import hookimpl


@hookimpl
def comments_actors(datasette, prefix):
    return [{"id": "carol", "name": "Carol Ng"}, {"id": "dave", "name": "Dave Ito"}]
"""
XSS = "<img src=x onerror=alert('body')> [link](javascript:alert('link')) **bold** @carol"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("browser")
    files = make_files(tmp_path)
    conn = sqlite3.connect(files[0])
    conn.execute("insert into items values (4, '<img src=x onerror=alert(''label'')>', 9)")
    conn.executemany("insert into items values (?, ?, ?)", [(5, "fig", 1), (6, "kiwi", 2)])
    conn.commit()
    conn.close()
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "directory.py").write_text(DIRECTORY_PLUGIN)
    with serve(
        tmp_path,
        files,
        plugins=["datasette-internal-comments"],
        config=CONFIG,
        args=["--root", "--plugins-dir", str(plugins)],
    ) as running:
        yield running


def api(server, actor, path, body=None):
    cookies = server.cookies_for(actor)
    if body is None:
        response = httpx.get(server.url + path, cookies=cookies)
    else:
        response = httpx.post(server.url + path, json=body, cookies=cookies)
    assert response.status_code == 200, response.text
    return response.json()


def new_thread(server, actor, body, **target):
    target = {"database": "data", "table": "items", **target}
    return api(server, actor, "/-/comments/api/threads", {**target, "body": body})["thread"]


def focused(page, selector):
    return page.evaluate("s => document.activeElement.matches(s)", selector)


def test_badges_are_drawn_with_the_table_page_and_ask_for_nothing(server, page_as):
    new_thread(server, "alice", "On the pear", row=["2"])
    resolved = new_thread(server, "alice", "Pear price", row=["2"], column="price")
    api(server, "alice", f"/-/comments/api/threads/{resolved['id']}/resolve", {})
    for actor in ("alice", None):
        page = page_as(actor)
        requests = []
        page.on("request", lambda request, seen=requests: seen.append(request.url))
        # Without the plugin's deferred script: what shows was drawn with the page itself.
        page.route(
            "**/comments.js*",
            lambda route: route.fulfill(body="", content_type="text/javascript"),
        )
        page.goto("/data/items")
        badge = page.locator('.comment-badge[data-comments-row="2"]')
        if actor:
            expect(badge).to_have_text("2")
            expect(badge).to_have_attribute(
                "aria-label", "Comments on row pear: 2 comment threads, 1 open"
            )
            expect(badge.locator("svg.di-icon")).to_have_count(1)
            expect(page.locator('.comment-badge[data-comments-row="3"]')).to_have_text("")
        else:
            # Anonymous visitors may not read comments here: nothing of the plugin at all.
            expect(page.locator("table.rows-and-columns")).to_be_visible()
            expect(page.locator(".comment-badge")).to_have_count(0)
            expect(page.locator("#comments-dialog")).to_have_count(0)
        assert [url for url in requests if "/-/comments" in url or "comments.js" in url] == (
            [server.url + "/-/static-plugins/datasette_internal_comments/comments.js"]
            if actor
            else []
        )


def test_the_whole_flow_by_keyboard_alone(server, page_as):
    page = page_as("alice")
    page.goto("/data/items")
    badge = '.comment-badge[data-comments-row="5"]'
    press_until(page, "Tab", badge)
    page.keyboard.press("Enter")

    dialog = page.locator("#comments-dialog")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => d.matches(':modal')")  # the page behind is dimmed and inert
    expect(dialog.locator(".modal-title")).to_have_text("Comments on fig (row 5)")
    expect(page.locator('tr[data-row="5"]')).to_have_class(re.compile("comments-row-active"))
    expect(page.locator("#comment-new-body")).to_be_focused()
    for _ in range(25):  # no element of the page behind gets the focus (the browser's own UI may)
        page.keyboard.press("Tab")
        assert dialog.evaluate(
            "d => d.contains(document.activeElement) || document.activeElement === document.body"
        )
    press_until(page, "Tab", "#comment-new-body")

    # write, with a mention of someone only the directory plugin knows
    page.keyboard.type("Is fig in season? @ca")
    expect(dialog.locator(".comment-mention-suggestions [role=option]")).to_have_text(
        ["@carolCarol Ng"]
    )
    page.keyboard.press("Enter")
    expect(page.locator("#comment-new-body")).to_have_value("Is fig in season? @carol ")
    press_until(page, "Tab", ".comment-new button[type=submit]")
    page.keyboard.press("Enter")
    thread = dialog.locator(".comment-thread")
    expect(thread).to_have_count(1)
    thread_id = thread.get_attribute("data-thread-id")
    expect(thread.locator(".comment-mention")).to_have_text("@carol")
    expect(page.locator(f"#reply-{thread_id}")).to_be_focused()

    # reply
    page.keyboard.type("It is, since June.")
    press_until(page, "Tab", ".comment-reply .di-button-primary")
    page.keyboard.press("Enter")
    expect(thread.locator(".comment")).to_have_count(2)
    expect(page.locator(f"#reply-{thread_id}")).to_be_focused()
    expect(page.locator(".comment-thread time.di-time").first).to_have_text(
        re.compile(r"now|seconds? ago")
    )

    # react to the reply: the picker, then one of its eight reactions
    reply_id = thread.locator(".comment").nth(1).get_attribute("data-comment-id")
    press_until(page, "Shift+Tab", f'[data-focus="picker-{reply_id}"]')
    page.keyboard.press("Enter")
    expect(page.locator(f"#comment-{reply_id} .comment-pick")).to_have_count(8)
    expect(page.locator(f"#comment-{reply_id} .comment-pick").first).to_be_focused()
    page.keyboard.press("Enter")
    pill = page.locator(f'[data-focus="react-{reply_id}-+1"]')
    expect(pill).to_be_focused()
    expect(pill).to_have_attribute("aria-pressed", "true")
    expect(pill).to_have_attribute("aria-label", "Thumbs up: 1")
    expect(page.locator(f"#comment-{reply_id} .comment-reaction")).to_have_count(1)

    # resolve: the thread folds to one line, which keeps the focus
    press_until(page, "Tab", f'[data-focus="resolve-{thread_id}"]')
    page.keyboard.press("Enter")
    summary = page.locator(f'summary[data-focus="thread-{thread_id}"]')
    expect(summary).to_be_focused()
    expect(summary).to_contain_text(re.compile(r"Resolved by alice, (now|\d+ seconds? ago) — show"))
    expect(page.locator(badge)).to_have_text("1")
    expect(page.locator(badge)).not_to_have_class(re.compile("comment-badge-open"))

    # close: Escape, the focus back on the row's badge, the row no longer highlighted
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert focused(page, badge)
    expect(page.locator('tr[data-row="5"]')).not_to_have_class(re.compile("comments-row-active"))


def test_row_page_threads_sit_below_the_rows_data(server, page_as):
    thread = new_thread(server, "alice", "Apple **season**", row=["1"])
    cell = new_thread(server, "bob", "Price?", row=["1"], column="price")
    api(server, "bob", f"/-/comments/api/threads/{cell['id']}/resolve", {})
    comment_id = thread["comments"][0]["id"]
    api(server, "bob", f"/-/comments/api/comments/{comment_id}/reactions", {"emoji": "heart"})
    page = page_as("alice")
    page.goto("/data/items/1")
    panel = page.locator("#comments")
    data = page.locator("section.content .table-wrapper")
    assert panel.evaluate(
        "(panel, data) => data.compareDocumentPosition(panel) & Node.DOCUMENT_POSITION_FOLLOWING",
        data.element_handle(),
    )
    assert panel.bounding_box()["y"] > data.bounding_box()["y"] + data.bounding_box()["height"]
    # the reactions in use, with counts, then the picker
    comment = page.locator(f"#comment-{comment_id}")
    expect(comment.locator(".comment-reaction")).to_have_count(1)
    expect(comment.locator(".comment-reaction")).to_have_attribute("aria-label", "Heart: 1")
    expect(comment.locator("summary[title='Add a reaction'] svg")).to_have_count(1)
    # the resolved thread is one line until opened
    resolved = page.locator(f"details#thread-{cell['id']}")
    expect(resolved.locator(":scope > summary")).to_contain_text(
        re.compile(r"Resolved by bob, .+ — show")
    )
    expect(resolved.locator(".comment-body")).to_be_hidden()
    resolved.locator(":scope > summary").click()
    expect(resolved.locator(".comment-body")).to_have_text("Price?")
    # relative times, the absolute time and its zone in the tooltip
    time = comment.locator("time.di-time")
    expect(time).to_have_text(re.compile(r"now|seconds? ago|minutes? ago"))
    assert re.search(r"E[SD]T$", time.get_attribute("title"))


def test_pages_and_the_dialog_add_no_serious_accessibility_violation(server, page_as):
    thread = new_thread(server, "alice", "Accessible? @bob", row=["6"])
    api(server, "bob", f"/-/comments/api/threads/{thread['id']}/comments", {"body": "Yes"})
    comment_id = thread["comments"][0]["id"]
    api(server, "bob", f"/-/comments/api/comments/{comment_id}/reactions", {"emoji": "eyes"})
    anonymous = page_as(None)
    anonymous.goto("/data/items")
    baseline = serious_violations(anonymous)  # Datasette's own table page, without comments
    page = page_as("alice")
    paths = [
        "/data/items",
        "/data/items/6",
        "/-/comments",
        "/-/comments/inbox",
        f"/-/comments/threads/{thread['id']}",
        "/-/comments/target?database=data&table=items",
    ]
    for path in paths:
        page.goto(path)
        assert serious_violations(page) - baseline == set(), path
    page.goto("/data/items")
    page.locator('.comment-badge[data-comments-row="6"]').click()
    expect(page.locator("#comments-dialog .comment-thread")).to_have_count(1)
    # in the dialog too, a comment's reactions and its picker sit on one line
    settle(page)  # once it has opened: mid-animation the dialog is scaled
    pill = page.locator(f"#comment-{comment_id} .comment-reaction").bounding_box()
    picker = page.locator(f"#comment-{comment_id} .comment-picker summary").bounding_box()
    assert abs(pill["y"] + pill["height"] / 2 - picker["y"] - picker["height"] / 2) < 4
    assert picker["x"] > pill["x"] + pill["width"]
    page.locator("#comments-dialog .comment-picker summary").first.click()
    assert serious_violations(page) - baseline == set(), "the dialog"


def test_comment_flow_with_the_mouse(server, page_as):
    page = page_as("alice")
    page.goto("/data/items")
    page.locator('.comment-badge[data-comments-row="3"]').click()
    dialog = page.locator("#comments-dialog")
    panel = dialog.locator(".comments-panel")
    expect(panel).to_contain_text("No threads on this row yet.")
    body = panel.locator("#comment-new-body")
    body.fill("Is this the right plum? " + XSS[:-3])
    body.press_sequentially("ro")
    panel.locator(".comment-mention-suggestions [role=option]", has_text="@carol").click()
    expect(body).to_have_value("Is this the right plum? " + XSS + " ")
    expect(body).to_be_focused()
    panel.locator(".comment-new button[type=submit]").click()
    thread = dialog.locator(".comment-thread").first
    expect(thread.locator(".comment-body strong")).to_have_text("bold")
    expect(page.locator('.comment-badge[data-comments-row="3"]')).to_have_text("1")

    first = thread.locator(".comment").first
    first.locator(".comment-edit summary").click()
    first.locator(".comment-edit textarea").fill("Is this the right *pear*?")
    first.locator(".comment-edit button[type=submit]").click()
    expect(thread.locator(".comment").first.locator(".comment-body em")).to_have_text("pear")
    expect(thread.locator(".comment").first.locator(".comment-edited")).to_be_visible()

    thread.locator(".comment-reply textarea").fill("Delete me")
    thread.get_by_role("button", name="Reply").click()
    expect(thread.locator(".comment")).to_have_count(2)
    thread.locator(".comment").nth(1).locator(".comment-delete button").click()
    expect(thread.locator(".comment").nth(1).locator(".comment-tombstone")).to_have_text(
        "This comment was deleted."
    )

    # a second thread, on one cell of the row, then the cell changes: the thread is outdated
    panel.locator("#comment-new-column").select_option("price")
    panel.locator("#comment-new-body").fill("This price is too low")
    panel.locator(".comment-new button[type=submit]").click()
    expect(dialog.locator(".comment-thread")).to_have_count(2)
    dialog.locator(".di-dialog-close").click()
    expect(dialog).to_be_hidden()
    response = httpx.post(
        server.url + "/data/items/3/-/update",
        json={"update": {"price": 3.75}},
        cookies=server.cookies_for("root"),
    )
    assert response.status_code == 200, response.text
    page.reload()
    page.locator('.comment-badge[data-comments-row="3"]').click()
    cell_thread = dialog.locator(".comment-thread").nth(1)
    expect(cell_thread.locator(".comment-status-outdated")).to_have_text("Outdated")
    expect(cell_thread.locator(".comment-anchor")).to_contain_text("3.75")


def test_stored_markup_never_runs(server, page_as):
    page = page_as("alice")
    page.goto("/data/items")
    page.locator('.comment-badge[data-comments-row="4"]').click()
    dialog = page.locator("#comments-dialog")
    expect(dialog.locator(".modal-title")).to_have_text(
        "Comments on <img src=x onerror=alert('label')> (row 4)"
    )
    dialog.locator("#comment-new-body").fill(XSS)
    # Escape closes the mention suggestions, not the dialog
    expect(dialog.locator(".comment-mention-suggestions")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog.locator(".comment-mention-suggestions")).to_have_count(0)
    expect(dialog).to_be_visible()
    dialog.locator(".comment-new button[type=submit]").click()
    expect(dialog.locator(".comment-thread")).to_have_count(1)
    thread_id = dialog.locator(".comment-thread").get_attribute("data-thread-id")
    response = httpx.post(
        f"{server.url}/-/comments/api/threads/{thread_id}/comments",
        json={"body": "<svg onload=alert('svg')> @bob [x](javascript:alert('m'))"},
        cookies=server.cookies_for("<img src=x onerror=alert('actor')>"),
    )
    assert response.status_code == 200, response.text
    page.goto("/data/items/4")
    expect(page.locator("#comments .comment-author").nth(1)).to_have_text(
        "<img src=x onerror=alert('actor')>"
    )
    page.goto("/-/comments")
    expect(page.locator(".comment-entry").first).to_be_visible()
    markup = ".comment-body img, .comment-body svg, .comment-entry img"
    assert page.evaluate("s => document.querySelectorAll(s).length", markup) == 0
