"""The HTML page, the event and the audit entry of each greeting, and a restart."""

from datasette import hookimpl
from datasette.plugins import pm
from datasette_internal_db.testing import close, make_datasette, start_without_core
from datasette_internal_hello.settings import plugin

ALICE = {"id": "alice"}


async def test_page_shows_the_form_and_the_greetings(ds, frozen_time):
    posted = await ds.client.post("/-/hello", data={"text": "Hi *there*"}, actor=ALICE)
    assert posted.status_code == 303 and posted.headers["location"] == "/-/hello"
    html = (await ds.client.get("/-/hello", actor=ALICE)).text
    assert '<textarea id="greeting-text" name="text"' in html
    assert "<p>Hi <em>there</em></p>" in html
    assert '<time class="di-time" datetime="2027-01-15T08:00:00.000+00:00"' in html
    assert '<a href="/">home</a> / <span aria-current="page">Greetings</span>' in html


async def test_page_pages_and_refuses(ds):
    for n in range(3):
        await ds.client.post("/-/hello", data={"text": f"greeting {n}"}, actor=ALICE)
    first = (await ds.client.get("/-/hello?_size=2", actor=ALICE)).text
    assert "greeting 2" in first and "greeting 0" not in first
    assert 'href="/-/hello?_size=2&amp;_next=2">Older greetings' in first
    older = (await ds.client.get("/-/hello?_size=2&_next=2", actor=ALICE)).text
    assert "greeting 0" in older and "greeting 1" not in older
    assert '<a href="/-/hello">Greetings</a> / <span aria-current="page">Older' in older
    refused = await ds.client.get("/-/hello")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    too_long = await ds.client.post("/-/hello", data={"text": "x" * 281}, actor=ALICE)
    assert too_long.status_code == 400 and "at most 280 characters" in too_long.text


class EventRecorder:
    __name__ = "event-recorder"

    def __init__(self):
        self.events = []

    @hookimpl
    def track_event(self, datasette, event):
        self.events.append(event)


async def test_a_greeting_fires_its_event_and_is_audited(ds):
    recorder = EventRecorder()
    pm.register(recorder, name="event-recorder")
    try:
        response = await ds.client.post("/-/hello/api/greetings", json={"text": "hi"}, actor=ALICE)
    finally:
        pm.unregister(name="event-recorder")
    greeting_id = response.json()["greeting"]["id"]
    (event,) = [e for e in recorder.events if e.name == "hello-greeting-added"]
    assert event.greeting_id == greeting_id and event.actor == ALICE
    (entry,) = await plugin.audit.entries(ds, action="greeting-add")
    assert entry["actor_id"] == "alice" and entry["resource"] == f"greeting/{greeting_id}"


async def test_greetings_survive_a_restart_on_the_same_internal_file(tmp_path):
    first = await make_datasette(tmp_path)
    try:
        await first.client.post("/-/hello/api/greetings", json={"text": "still here"}, actor=ALICE)
    finally:
        close(first)
    second = await make_datasette(tmp_path)
    try:
        listed = (await second.client.get("/-/hello/api/greetings", actor=ALICE)).json()
        assert [g["text"] for g in listed["greetings"]] == ["still here"]
    finally:
        close(second)


def test_loaded_without_core_it_stops_at_startup_naming_core(tmp_path):
    code, errors = start_without_core("datasette-internal-hello", tmp_path)
    assert code == 1
    assert "datasette-internal-hello keeps its state in the internal database" in errors
