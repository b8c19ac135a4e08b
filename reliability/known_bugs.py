"""Open bugs found by the reliability suite, one reproduction each. Not collected by a plain
`pytest reliability` (the file name does not start with test_), so the suite stays green; run
them with `pytest reliability/known_bugs.py`. When a bug is fixed, move its test into the suite
and drop its exclusion (test_fuzz_api.hits_open_bug, test_xss_browser.SETTINGS_PAYLOADS).
"""

import html.parser
import json
import shutil

import pytest
from reliability_helpers import (
    Actors,
    client,
    cookie_header,
    create_bookmark,
    create_comment_thread,
    create_endpoint,
    make_data_db,
    serve_all,
    tracebacks,
)
from test_faults import FAULT_PLUGINS, fill_disk, limit_disk

LONE_SURROGATE = '{"%s": "\\ud800"}'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("known-bugs")
    plugins_dir = tmp_path / "plugins"
    plugins_dir.mkdir()
    shutil.copy(FAULT_PLUGINS / "disk_limit.py", plugins_dir)
    server = serve_all(
        tmp_path, make_data_db(tmp_path / "data.db"), extra_args=["--plugins-dir", str(plugins_dir)]
    )
    actors = Actors(server)
    with client(server) as http:
        thread = create_comment_thread(http, actors.alice, "seed")
        bookmark = create_bookmark(http, actors.alice, "/data/species")
        endpoint = create_endpoint(http, actors.root, "https://example.com/hook")
        incoming = http.post(
            "/-/webhooks/api/incoming",
            json={"slug": "known-in", "scheme": "bearer"},
            headers=cookie_header(actors.root),
        ).json()["incoming"]
    server.routes = [
        ("alice", f"/-/comments/api/threads/{thread['id']}/comments", "body"),
        ("alice", f"/-/comments/api/comments/{thread['comments'][0]['id']}/edit", "body"),
        ("alice", f"/-/bookmarks/api/bookmarks/{bookmark['id']}", "title"),
        ("alice", f"/-/bookmarks/api/bookmarks/{bookmark['id']}", "note"),
        ("root", f"/-/webhooks/api/endpoints/{endpoint['id']}", "description"),
        ("root", f"/-/webhooks/api/incoming/{incoming['id']}", "description"),
    ]
    server.actors = actors
    yield server
    server.stop()


def test_a_lone_surrogate_in_a_json_string_is_a_400_not_a_500(server):
    """ "\\ud800" is valid JSON but not valid Unicode text: SQLite cannot store it.

    Fix in one place: core's web.read_json_object should refuse it with InvalidInput.
    """
    statuses = {}
    with client(server) as http:
        for actor, path, field in server.routes:
            response = http.post(
                path,
                content=(LONE_SURROGATE % field).encode(),
                headers=dict(
                    cookie_header(getattr(server.actors, actor)),
                    **{"content-type": "application/json"},
                ),
            )
            statuses[f"{path} {field}"] = response.status_code
    assert {key: status for key, status in statuses.items() if status >= 500} == {}


@pytest.mark.parametrize("plugin", [[], ["x"], {"a": 1}])
def test_core_settings_refuse_a_plugin_name_that_is_not_a_string(server, plugin):
    with client(server) as http:
        response = http.post(
            "/-/internal/settings",
            json={"plugin": plugin, "key": "paused", "value": True},
            headers=cookie_header(server.actors.root),
        )
    assert response.status_code == 400, response.text[:200]


class SettingInputs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs = []

    def handle_starttag(self, tag, attrs):
        if tag == "input" and ("class", "setting-value") in attrs:
            self.inputs.append(dict(attrs))


def test_core_settings_page_escapes_values_inside_the_value_attribute(server):
    value = ["*", 'say "hi"', "x autofocus onfocus=window.__xss=18 y"]
    root = cookie_header(server.actors.root)
    with client(server) as http:
        saved = http.post(
            "/-/internal/settings",
            json={"plugin": "datasette-internal-comments", "key": "enabled", "value": value},
            headers=root,
        )
        assert saved.status_code == 200, saved.text
        page = http.get("/-/internal/settings", headers=root).text
    parser = SettingInputs()
    parser.feed(page)
    assert [i for i in parser.inputs if "onfocus" in i or "autofocus" in i] == []
    assert value in [json.loads(i["value"]) for i in parser.inputs if i.get("value", "")[:1] == "["]


def test_a_full_disk_gives_clear_json_errors_and_no_traceback(server):
    """Today: 500, an HTML error page and a traceback per refused write (comments, bookmarks)."""
    with client(server) as http:
        limit_disk(http, server.actors.root, extra_pages=20)
        try:
            refused = [r for r in fill_disk(server, 40, prefix="full") if isinstance(r, str)]
        finally:
            limit_disk(http, server.actors.root, extra_pages=None)
    assert refused
    assert [r for r in refused if r.split()[1] not in ("503", "507") or "{" not in r] == []
    assert tracebacks(server) == ""
