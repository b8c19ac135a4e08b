"""The recipes the cookbook quotes (docs/recipes.py) do what the cookbook says."""

import pytest
from datasette_internal_db import SecretsUnreadable, jobs
from datasette_internal_db.testing import close, make_datasette
from recipes import (
    api_key_matches,
    display_names,
    new_api_key,
    plugin,
    save_signing_key,
    signing_key,
    start_scan,
)

# Datasette's secret, from which core derives the key for stored secrets.
KEY, OTHER_KEY = "one", "two"


@pytest.mark.asyncio
async def test_display_names_ask_datasette_once_an_hour(tmp_path, frozen_time):
    ds = await make_datasette(tmp_path)
    asked = []

    async def actors_from_ids(ids):
        asked.append(list(ids))
        return {i: {"id": i, "name": i.title()} for i in ids}

    ds.actors_from_ids = actors_from_ids
    try:
        assert await display_names(ds, ["alice", "bob"]) == {"alice": "Alice", "bob": "Bob"}
        assert await display_names(ds, ["bob", "carol"]) == {"bob": "Bob", "carol": "Carol"}
        assert asked == [["alice", "bob"], ["carol"]]
        frozen_time.advance(3601)
        await display_names(ds, ["alice"])
        assert asked[-1] == ["alice"]
    finally:
        close(ds)


@pytest.mark.asyncio
async def test_scan_reports_progress_and_errors_then_ends(tmp_path):
    ds = await make_datasette(tmp_path)

    async def check(item):
        if item % 50 == 0:
            raise ValueError("a round number")

    try:
        job_id = await start_scan(ds, "alice", list(range(1, 251)), check)
        await jobs.wait(job_id)
        job = await plugin.jobs.get(ds, job_id)
        assert (job["status"], job["done"], job["total"]) == ("done", 250, 250)
        assert job["errors"] == [f"{n}: a round number" for n in (50, 100, 150, 200, 250)]
        assert job["actor_id"] == "alice"
    finally:
        close(ds)


def test_api_keys_are_kept_only_as_a_hash():
    key, stored = new_api_key()
    assert key.startswith("recipes_") and key not in stored
    assert api_key_matches(key, stored) and not api_key_matches(key + "x", stored)


@pytest.mark.asyncio
async def test_signing_keys_survive_a_restart_with_the_same_secret_only(tmp_path):
    first = await make_datasette(tmp_path, secret=KEY)
    try:
        await save_signing_key(first, 7, "whsec_abc", actor={"id": "alice"})
    finally:
        close(first)
    second = await make_datasette(tmp_path, secret=KEY)
    try:
        assert await signing_key(second, 7) == "whsec_abc"
        (entry,) = await plugin.audit.entries(second, action="signing-key-set")
        assert (entry["actor_id"], entry["resource"]) == ("alice", "endpoint/7")
    finally:
        close(second)
    third = await make_datasette(tmp_path, secret=OTHER_KEY)
    try:
        with pytest.raises(SecretsUnreadable):
            await signing_key(third, 7)
    finally:
        close(third)
