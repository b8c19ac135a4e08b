"""Display names come from actors_from_ids once, then from core's cache until they expire."""

from datasette import hookimpl
from datasette_internal_comments.actors import SHOWN_SECONDS
from datasette_internal_comments.settings import plugin


async def test_display_names_are_cached_until_they_expire(as_actor, frozen_time, register):
    calls = []

    class Names:
        @staticmethod
        @hookimpl
        def actors_from_ids(datasette, actor_ids):
            calls.append(sorted(actor_ids))
            return {i: {"id": i, "name": f"{i.title()} v{len(calls)}"} for i in actor_ids}

    register(Names)
    alice = as_actor("alice")
    thread = await alice.new_thread("Hi", table="items")
    assert thread["author"]["name"] == "Alice v1"
    path = f"/-/comments/api/threads/{thread['id']}"
    for _ in range(3):
        again = (await alice.get(path)).json()["thread"]
        assert again["author"]["name"] == "Alice v1"
    assert calls == [["alice"]]
    frozen_time.advance(3601)
    expired = (await alice.get(path)).json()["thread"]
    assert expired["author"]["name"] == "Alice v2"
    assert calls == [["alice"], ["alice"]]


async def test_names_on_threads_are_kept_in_memory_a_minute_after_the_cache(
    ds, as_actor, frozen_time
):
    alice = as_actor("alice")
    thread = await alice.new_thread("Hi", table="items")
    path = f"/-/comments/api/threads/{thread['id']}"
    await plugin.cache.set(ds, "alice", {"id": "alice", "name": "Alice Renamed"})
    assert (await alice.get(path)).json()["thread"]["author"]["name"] == "alice"
    frozen_time.advance(SHOWN_SECONDS)
    assert (await alice.get(path)).json()["thread"]["author"]["name"] == "Alice Renamed"


class Directory:
    """An auth plugin's comments_actors hook: everyone it knows, whatever the prefix."""

    asked = []

    @staticmethod
    @hookimpl
    async def comments_actors(datasette, prefix):
        Directory.asked.append(prefix)
        return [
            {"id": "alex", "name": "Alex Doe"},
            {"id": "zed", "name": "Albert Zed"},
            {"id": "bob", "name": "Bob"},
            {"name": "an actor without an id"},
            "not an actor",
        ]


async def test_mention_autocomplete_offers_actors_other_plugins_list(as_actor, register):
    alice = as_actor("alice")
    await alice.new_thread("Seen here", table="items")
    register(Directory)
    Directory.asked.clear()
    found = (await alice.get("/-/comments/api/actors?q=@al")).json()["actors"]
    # ids starting with the prefix first, then names; the authors already seen among them
    assert found == [
        {"id": "alex", "name": "Alex Doe"},
        {"id": "alice", "name": "alice"},
        {"id": "zed", "name": "Albert Zed"},
    ]
    assert Directory.asked == ["al"]
    # anonymous readers are never shown the directory
    assert (await as_actor(None).get("/-/comments/api/actors?q=al")).json()["actors"] == []
    assert Directory.asked == ["al"]
