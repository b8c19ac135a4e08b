"""The recipes the cookbook quotes (docs/recipes.py) do what the cookbook says."""

import asyncio

import pytest
import pytest_asyncio
from datasette_internal_db import InvalidInput, Plugin, SecretsUnreadable, jobs
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
# Another plugin's handle: the cookbook says each handle keeps to its own plugin's rows.
other = Plugin("datasette-internal-other")


@pytest_asyncio.fixture
async def ds(tmp_path):
    datasette = await make_datasette(tmp_path, secret=KEY)
    yield datasette
    close(datasette)


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


@pytest.mark.asyncio
async def test_a_handle_gets_and_cancels_only_its_own_plugins_jobs(ds):
    # jobs.md: "plugin.jobs.get(datasette, job_id) (only the plugin's own jobs)".
    release = asyncio.Event()

    async def check(item):
        await release.wait()

    job_id = await start_scan(ds, "alice", list(range(1, 201)), check)
    try:
        assert await other.jobs.get(ds, job_id) is None
        await other.jobs.request_cancel(ds, job_id)
        assert (await plugin.jobs.get(ds, job_id))["cancel_requested"] is False
        await plugin.jobs.request_cancel(ds, job_id)
    finally:
        release.set()
        await jobs.wait(job_id)
    job = await plugin.jobs.get(ds, job_id)
    assert (job["status"], job["done"]) == ("cancelled", 100)


@pytest.mark.asyncio
async def test_a_scan_keeps_the_first_50_errors_and_counts_them_all(ds):
    # jobs.md: "the first 50 errors are kept with their count".
    async def check(item):
        raise ValueError("bad")

    job_id = await start_scan(ds, "alice", list(range(1, 61)), check)
    await jobs.wait(job_id)
    job = await plugin.jobs.get(ds, job_id)
    assert job["errors"] == [f"{n}: bad" for n in range(1, 51)]
    assert (job["error_count"], job["status"], job["done"]) == (60, "done", 60)


@pytest.mark.asyncio
async def test_each_plugin_has_its_own_cache_audit_entries_and_secrets(tmp_path):
    # cache.md: "plugin.cache, keyed apart from every other plugin's"; audit.md: entries "reads
    # the plugin's own entries"; secrets.md: "filed under the plugin's name".
    first = await make_datasette(tmp_path, secret=KEY)
    try:
        await plugin.cache.set(first, "k", "mine")
        assert await other.cache.get(first, "k") is None
        await other.cache.set(first, "k", "theirs")
        await save_signing_key(first, 7, "whsec_abc", actor={"id": "alice"})
        await other.audit.record(first, "signing-key-set", actor={"id": "mallory"})
        assert await other.secrets.read(first, "endpoint-7/signing-key") is None
        await other.secrets.delete(first, "endpoint-7/signing-key")
    finally:
        close(first)
    # A new instance has nothing in memory: what it reads is what the table holds.
    second = await make_datasette(tmp_path, secret=KEY)
    try:
        assert await plugin.cache.get(second, "k") == "mine"
        assert await other.cache.get(second, "k") == "theirs"
        (entry,) = await plugin.audit.entries(second, action="signing-key-set")
        assert entry["actor_id"] == "alice"
        assert await signing_key(second, 7) == "whsec_abc"
    finally:
        close(second)


@pytest.mark.asyncio
async def test_cache_ttl_defaults_and_bounds(ds, frozen_time):
    # cache.md: "Keys are strings of at most 512 characters; values at most 256 KB of JSON;
    # ttl=0 never expires, no ttl means an hour."
    await plugin.cache.set(ds, "hour", 1)
    await plugin.cache.set(ds, "k" * 512, "x" * (256 * 1024 - 2), ttl=0)
    frozen_time.advance(3599)
    assert await plugin.cache.get(ds, "hour") == 1
    frozen_time.advance(1)
    assert await plugin.cache.get(ds, "hour", "gone") == "gone"
    frozen_time.advance(10 * 365 * 86400)
    assert len(await plugin.cache.get(ds, "k" * 512)) == 256 * 1024 - 2
    for key, value in [("k" * 513, 1), ("big", "x" * (256 * 1024 - 1))]:
        with pytest.raises(InvalidInput):
            await plugin.cache.set(ds, key, value)
