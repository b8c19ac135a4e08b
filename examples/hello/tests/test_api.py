"""The JSON API: create, list newest first, page with _size/_next, and every refusal."""

import pytest
from datasette_internal_hello.settings import plugin
from datasette_internal_hello.store import GREETINGS

API = "/-/hello/api/greetings"
ALICE = {"id": "alice"}


async def greet(ds, text, actor=ALICE):
    return await ds.client.post(API, json={"text": text}, actor=actor)


async def test_create_then_list_newest_first(ds):
    assert (await greet(ds, "first")).status_code == 201
    created = (await greet(ds, "**second** [site](https://example.org)")).json()["greeting"]
    assert created["actor_id"] == "alice"
    assert created["html"] == (
        '<p><strong>second</strong> <a href="https://example.org" rel="nofollow noopener">'
        "site</a></p>\n"
    )
    listed = (await ds.client.get(API, actor={"id": "bob"})).json()
    assert [g["text"] for g in listed["greetings"]] == [created["text"], "first"]
    assert listed["next"] is None and listed["next_url"] is None


async def test_paging_follows_next_url_to_the_end(ds):
    for n in range(5):
        await greet(ds, f"greeting {n}")
    seen, url = [], f"{API}?_size=2"
    while url:
        answer = (await ds.client.get(url, actor=ALICE)).json()
        assert len(answer["greetings"]) <= 2
        seen.extend(g["text"] for g in answer["greetings"])
        url = answer["next_url"]
    assert seen == [f"greeting {n}" for n in (4, 3, 2, 1, 0)]


@pytest.mark.parametrize(
    "body",
    [{}, {"text": ""}, {"text": "  "}, {"text": 5}, {"text": "x" * 281}, {"text": "hi", "x": 1}],
)
async def test_bad_body_is_a_400(ds, body):
    response = await ds.client.post(API, json=body, actor=ALICE)
    assert response.status_code == 400
    assert response.json()["ok"] is False and response.json()["errors"]


@pytest.mark.parametrize("query", ["_size=0", "_size=101", "_size=x", "_next=abc", "_next=1,2"])
async def test_bad_paging_is_a_400(ds, query):
    response = await ds.client.get(f"{API}?{query}", actor=ALICE)
    assert response.status_code == 400


async def test_max_length_is_a_runtime_setting(ds):
    await plugin.settings.set(ds, "max_length", 5)
    assert (await greet(ds, "hi there")).status_code == 400
    assert (await greet(ds, "hi")).status_code == 201


async def test_anonymous_actors_are_refused(ds):
    assert (await ds.client.get(API)).status_code == 403
    refused = await ds.client.post(API, json={"text": "hi"})
    assert refused.status_code == 403
    assert refused.json() == {"ok": False, "errors": ["Permission denied: hello-greet is required"]}


async def test_configuration_replaces_the_default(tmp_path):
    from datasette_internal_db.testing import close, make_datasette

    config = {"permissions": {"hello-greet": {"id": "alice"}}}
    ds = await make_datasette(tmp_path, config=config)
    try:
        assert (await greet(ds, "hi")).status_code == 201
        assert (await greet(ds, "hi", actor={"id": "bob"})).status_code == 403
    finally:
        close(ds)


async def test_unknown_method_is_a_405(ds):
    response = await ds.client.delete(API, actor=ALICE)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


async def test_rows_from_an_older_markdown_renderer_are_rendered_again(ds):
    await ds.get_internal_database().execute_write(
        f"insert into {GREETINGS} (actor_id, text, html, markdown_version, created_at)"
        " values ('alice', 'hi ![x](http://example.invalid/x.png)',"
        " '<p>hi <img src=\"http://example.invalid/x.png\"></p>', 0, '2026-01-01T00:00:00Z')"
    )
    (greeting,) = (await ds.client.get(API, actor=ALICE)).json()["greetings"]
    assert greeting["html"] == "<p>hi </p>\n"
