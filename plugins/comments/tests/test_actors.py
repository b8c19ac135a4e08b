"""Display names come from actors_from_ids once, then from core's cache until they expire."""

from datasette import hookimpl
from datasette.plugins import pm
from datasette_internal_db import clock


async def test_display_names_are_cached_until_they_expire(as_actor, monkeypatch):
    calls = []

    class Names:
        @staticmethod
        @hookimpl
        def actors_from_ids(datasette, actor_ids):
            calls.append(sorted(actor_ids))
            return {i: {"id": i, "name": f"{i.title()} v{len(calls)}"} for i in actor_ids}

    pm.register(Names, name="comment-test-cached-names")
    try:
        alice = as_actor("alice")
        thread = await alice.new_thread("Hi", table="items")
        assert thread["author"]["name"] == "Alice v1"
        path = f"/-/comments/api/threads/{thread['id']}"
        for _ in range(3):
            again = (await alice.get(path)).json()["thread"]
            assert again["author"]["name"] == "Alice v1"
        assert calls == [["alice"]]
        now = clock.now()
        monkeypatch.setattr(clock, "now", lambda: now + 3601)
        expired = (await alice.get(path)).json()["thread"]
        assert expired["author"]["name"] == "Alice v2"
        assert calls == [["alice"], ["alice"]]
    finally:
        pm.unregister(name="comment-test-cached-names")
