"""Settings, cache, audit, jobs, secrets: API, bad input, concurrency, restart."""

import asyncio
import hashlib
import hmac
import html.parser
import json
import os
import subprocess
import sys

import pytest
from conftest import internal_db_full, internal_db_locked
from datasette_internal_db import (
    Cache,
    InvalidInput,
    RuntimeSettings,
    Setting,
    audit,
    get_internal_db,
    jobs,
    secrets,
)
from datasette_internal_db.lifecycle import core_settings
from datasette_internal_db.testing import close, make_datasette

example_settings = RuntimeSettings(
    "example-plugin",
    [
        Setting("paused", bool, False, "Stop everything"),
        Setting("limit", int, 10),
        Setting("ratio", float, 0.5),
        Setting("tables", list, []),
    ],
)
example_cache = Cache("example-plugin", max_entries=5, default_ttl=60)


# --- settings --------------------------------------------------------------------------------


async def test_setting_falls_back_to_config_then_default(tmp_path):
    datasette = await make_datasette(tmp_path, config={"plugins": {"example-plugin": {"limit": 3}}})
    assert await example_settings.get(datasette, "limit") == 3
    assert await example_settings.get(datasette, "paused") is False
    await example_settings.set(datasette, "limit", 7, actor_id="alice")
    assert await example_settings.get(datasette, "limit") == 7
    everything = await example_settings.all(datasette)
    assert everything["limit"]["source"] == "runtime"
    assert everything["limit"]["updated_by"] == "alice"
    assert everything["paused"]["source"] == "default"
    await example_settings.reset(datasette, "limit", actor_id="bob")
    assert await example_settings.get(datasette, "limit") == 3
    history = await example_settings.history(datasette, "limit")
    assert [(h["value"], h["changed_by"], h["reset"]) for h in history] == [
        (None, "bob", True),
        (7, "alice", False),
    ]
    close(datasette)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("paused", 1, "must be a boolean"),
        ("limit", True, "must be a integer"),
        ("limit", "7", "must be a integer"),
        ("tables", {"a": 1}, "must be a list"),
        ("nope", 1, "Unknown setting 'nope'"),
        ("tables", ["x" * 70_000], "larger than"),
    ],
)
async def test_setting_bad_input(ds, key, value, message):
    await example_settings.set(ds, "limit", 4)
    with pytest.raises(InvalidInput, match=message):
        await example_settings.set(ds, key, value)
    assert await example_settings.get(ds, "limit") == 4


async def test_settings_reads_are_memoized_until_this_process_writes(ds):
    internal = get_internal_db(ds)
    await example_settings.set(ds, "tables", ["a"])
    first = await example_settings.get(ds, "tables")
    first.append("mutated by a caller")
    assert await example_settings.get(ds, "tables") == ["a"]
    # Written behind the API's back (nothing does that: core's lock keeps other processes out),
    # so the memo still answers: proof that reads stopped querying.
    await internal.execute_write(
        "update _datasette_internal_settings set value = '[\"b\"]'"
        " where plugin = 'example-plugin' and key = 'tables'"
    )
    assert await example_settings.get(ds, "tables") == ["a"]
    await example_settings.set(ds, "tables", ["c"])
    assert await example_settings.get(ds, "tables") == ["c"]
    await example_settings.reset(ds, "tables")
    assert await example_settings.get(ds, "tables") == []


async def test_a_read_racing_a_write_does_not_keep_the_old_value(ds, monkeypatch):
    await example_settings.set(ds, "limit", 1)
    internal = get_internal_db(ds)
    real_execute = internal.execute

    async def execute_then_write(sql, params=None, **kwargs):
        # The real read finishes first, then a real write lands before the reader stores it.
        result = await real_execute(sql, params, **kwargs)
        monkeypatch.setattr(internal, "execute", real_execute)
        await example_settings.set(ds, "limit", 2)
        return result

    example_settings._memo.pop(ds, None)
    monkeypatch.setattr(internal, "execute", execute_then_write)
    assert await example_settings.get(ds, "limit") == 1
    assert await example_settings.get(ds, "limit") == 2


async def test_settings_concurrent_writers_lose_nothing(ds):
    await asyncio.gather(
        *(example_settings.set(ds, "limit", n, actor_id=f"a{n}") for n in range(50))
    )
    assert len(await example_settings.history(ds, "limit", limit=100)) == 50


async def test_settings_json_api_is_admin_only(ds):
    body = {"plugin": "example-plugin", "key": "limit", "value": 9}
    anonymous = await ds.client.post("/-/internal/settings", json=body)
    assert anonymous.status_code == 403
    alice = await ds.client.post("/-/internal/settings", json=body, actor={"id": "alice"})
    assert alice.status_code == 403
    root = await ds.client.post("/-/internal/settings", json=body, actor={"id": "root"})
    assert root.status_code == 200, root.text
    assert root.json()["settings"]["limit"]["value"] == 9
    bad = await ds.client.post(
        "/-/internal/settings", json={**body, "value": "nine"}, actor={"id": "root"}
    )
    assert bad.status_code == 400
    assert bad.json() == {"ok": False, "errors": ["Setting 'limit' must be a integer, got str"]}
    for broken in (b"{nope", b"[1]", b'{"plugin": "who"}'):
        response = await ds.client.post(
            "/-/internal/settings", content=broken, actor={"id": "root"}
        )
        assert response.status_code == 400, broken
        assert response.json()["ok"] is False
    listing = await ds.client.get("/-/internal/settings.json", actor={"id": "root"})
    assert listing.json()["settings"]["example-plugin"]["limit"]["value"] == 9
    page = await ds.client.get("/-/internal/settings", actor={"id": "root"})
    assert "audit_retention_days" in page.text


# --- cache -----------------------------------------------------------------------------------


async def test_cache_expiry_with_controlled_time(ds, frozen_time):
    await example_cache.set(ds, "k", {"v": 1}, ttl=10)
    assert await example_cache.get(ds, "k") == {"v": 1}
    frozen_time.advance(11)
    assert await example_cache.get(ds, "k", "gone") == "gone"
    from datasette_internal_db.cache import prune_expired

    assert await prune_expired(ds) == 1


async def test_cache_is_bounded_and_keeps_newest(ds, frozen_time):
    for n in range(8):
        frozen_time.advance(1)
        await example_cache.set(ds, f"k{n}", n)
    found = await example_cache.get_many(ds, [f"k{n}" for n in range(8)])
    assert found == {f"k{n}": n for n in range(3, 8)}


async def test_cache_delete_and_bad_input(ds):
    await example_cache.set(ds, "k", 1)
    await example_cache.delete(ds, "k")
    assert await example_cache.get(ds, "k") is None
    for key, value, ttl in [
        ("", 1, None),
        ("k", object(), None),
        ("k", 1, -1),
        ("k", "x" * 300_000, None),
    ]:
        with pytest.raises(InvalidInput):
            await example_cache.set(ds, key, value, ttl=ttl)


async def test_cache_hits_are_served_from_memory_and_writes_keep_it_true(ds):
    internal = get_internal_db(ds)
    await example_cache.set(ds, "k", {"v": [1]})
    first = await example_cache.get(ds, "k")
    first["v"].append("mutated by a caller")
    assert await example_cache.get(ds, "k") == {"v": [1]}
    # Changed behind the API's back (core's lock keeps other processes out, so nothing does):
    # the memo still answers, proof that hits stopped querying.
    await internal.execute_write(
        "update _datasette_internal_cache set value = '{\"v\": 2}' where key = 'k'"
    )
    assert await example_cache.get(ds, "k") == {"v": [1]}
    await example_cache.set(ds, "k", {"v": 3})
    assert await example_cache.get(ds, "k") == {"v": 3}
    await example_cache.delete(ds, "k")
    assert await example_cache.get(ds, "k") is None


async def test_a_cache_read_racing_a_write_does_not_keep_the_old_value(ds, monkeypatch):
    await example_cache.set(ds, "k", "old")
    example_cache._memos.pop(ds, None)
    internal = get_internal_db(ds)
    real_execute = internal.execute

    async def execute_then_write(sql, params=None, **kwargs):
        # The real read finishes first, then a real write lands before the reader remembers it.
        result = await real_execute(sql, params, **kwargs)
        monkeypatch.setattr(internal, "execute", real_execute)
        await example_cache.set(ds, "k", "new")
        return result

    monkeypatch.setattr(internal, "execute", execute_then_write)
    assert await example_cache.get(ds, "k") == "old"
    assert await example_cache.get(ds, "k") == "new"


async def test_cache_concurrent_writers(ds):
    wide = Cache("example-wide", max_entries=1000)
    await asyncio.gather(*(wide.set(ds, f"k{n}", n) for n in range(200)))
    assert len(await wide.get_many(ds, [f"k{n}" for n in range(200)])) == 200


# --- audit -----------------------------------------------------------------------------------


async def test_audit_record_filter_page_and_prune(ds, frozen_time):
    for n in range(5):
        await audit.record(
            ds,
            "example-plugin",
            "delete",
            actor={"id": f"u{n % 2}"},
            resource=f"db/t/{n}",
            details={"n": n},
        )
        frozen_time.advance(86400)
    await audit.record(ds, "other-plugin", "rotate", actor=None)
    newest = await audit.entries(ds, plugin="example-plugin", limit=2)
    assert [e["details"]["n"] for e in newest] == [4, 3]
    older = await audit.entries(ds, plugin="example-plugin", before_id=newest[-1]["id"], limit=10)
    assert [e["details"]["n"] for e in older] == [2, 1, 0]
    assert {e["details"]["n"] for e in await audit.entries(ds, actor_id="u1")} == {1, 3}
    assert await audit.prune(ds, retention_days=2) == 3
    with pytest.raises(InvalidInput):
        await audit.record(ds, "p", "a", details={"x": "y" * 20_000})
    with pytest.raises(InvalidInput):
        await audit.entries(ds, limit=0)


async def test_audit_pages_are_admin_only(ds):
    await audit.record(ds, "example-plugin", "revoke", actor={"id": "root"}, resource="<b>x</b>")
    assert (await ds.client.get("/-/internal/audit.json")).status_code == 403
    assert (await ds.client.get("/-/internal/audit.json", actor={"id": "alice"})).status_code == 403
    data = (
        await ds.client.get("/-/internal/audit.json?plugin=example-plugin", actor={"id": "root"})
    ).json()
    assert data["entries"][0]["action"] == "revoke"
    page = await ds.client.get("/-/internal/audit", actor={"id": "root"})
    assert "&lt;b&gt;x&lt;/b&gt;" in page.text and "<b>x</b>" not in page.text
    bad = await ds.client.get("/-/internal/audit.json?_size=abc", actor={"id": "root"})
    assert bad.status_code == 400 and bad.json()["ok"] is False


async def test_status_page_is_admin_only(ds):
    assert (await ds.client.get("/-/internal.json")).status_code == 403
    assert (await ds.client.get("/-/internal", actor={"id": "alice"})).status_code == 403
    data = (await ds.client.get("/-/internal.json", actor={"id": "root"})).json()
    assert data["persistent"] is True and data["journal_mode"] == "wal"
    assert any(t["name"] == "_datasette_internal_jobs" for t in data["tables"])
    page = await ds.client.get("/-/internal", actor={"id": "root"})
    assert "Migration sets" in page.text


# --- jobs ------------------------------------------------------------------------------------


async def test_job_progress_and_errors(ds):
    async def work(job):
        for n in range(10):
            if n == 3:
                await job.error(f"item {n} failed")
            await job.advance()

    job_id = await jobs.start(ds, "example-plugin", "scan", work, actor_id="alice", total=10)
    await jobs.wait(job_id)
    job = await jobs.get(ds, job_id)
    assert (job["status"], job["done"], job["total"], job["errors"]) == (
        "done",
        10,
        10,
        ["item 3 failed"],
    )
    mine = await ds.client.get(f"/-/internal/jobs/{job_id}.json", actor={"id": "alice"})
    assert mine.json()["job"]["status"] == "done"
    theirs = await ds.client.get(f"/-/internal/jobs/{job_id}.json", actor={"id": "bob"})
    assert theirs.status_code == 404
    assert (
        await ds.client.get(f"/-/internal/jobs/{job_id}.json", actor={"id": "root"})
    ).status_code == 200


async def test_job_cancel_and_failure(ds):
    started = asyncio.Event()

    async def slow(job):
        started.set()
        while not await job.cancel_requested():
            await asyncio.sleep(0.01)

    job_id = await jobs.start(ds, "example-plugin", "slow", slow, actor_id="alice")
    await started.wait()
    refused = await ds.client.get(f"/-/internal/jobs/{job_id}/cancel", actor={"id": "alice"})
    assert refused.status_code == 405
    response = await ds.client.post(f"/-/internal/jobs/{job_id}/cancel", actor={"id": "alice"})
    assert response.json()["job"]["cancel_requested"] is True
    await jobs.wait(job_id)
    assert (await jobs.get(ds, job_id))["status"] == "cancelled"

    async def broken(job):
        raise ValueError("boom")

    failed = await jobs.start(ds, "example-plugin", "broken", broken)
    await jobs.wait(failed)
    job = await jobs.get(ds, failed)
    assert job["status"] == "failed" and job["errors"] == ["ValueError: boom"]


async def test_running_job_is_interrupted_after_restart(tmp_path):
    first = await make_datasette(tmp_path)
    hang = asyncio.Event()

    async def forever(job):
        await hang.wait()

    job_id = await jobs.start(first, "example-plugin", "forever", forever)
    close(first)
    second = await make_datasette(tmp_path)
    job = await jobs.get(second, job_id)
    assert job["status"] == "interrupted" and job["finished"]
    hang.set()
    close(second)


# --- secrets ---------------------------------------------------------------------------------


def test_tokens_are_hashed_and_verified():
    token = secrets.new_token("dsi_")
    stored = secrets.hash_token(token)
    assert token.startswith("dsi_") and len(token) > 40
    assert len(stored) == 64 and token not in stored
    assert secrets.verify_token(token, stored)
    assert not secrets.verify_token(token + "x", stored)
    assert not secrets.verify_token(None, stored)


async def test_secret_round_trip_and_restart(tmp_path):
    config = {"plugins": {"datasette-internal-db": {"encryption_keys": ["key-one"]}}}
    first = await make_datasette(tmp_path, config=config)
    await secrets.store(first, "example-plugin", "signing", "whsec_abc")
    raw = (
        await first.get_internal_database().execute(
            "select ciphertext from _datasette_internal_secrets"
        )
    ).single_value()
    assert "whsec_abc" not in raw
    close(first)
    second = await make_datasette(tmp_path, config=config)
    assert await secrets.read(second, "example-plugin", "signing") == "whsec_abc"
    await secrets.delete(second, "example-plugin", "signing")
    assert await secrets.read(second, "example-plugin", "signing") is None
    with pytest.raises(InvalidInput):
        await secrets.store(second, "example-plugin", "big", "x" * 20_000)
    close(second)


async def test_key_rotation(tmp_path):
    def config(keys):
        return {"plugins": {"datasette-internal-db": {"encryption_keys": keys}}}

    first = await make_datasette(tmp_path, config=config(["old"]))
    await secrets.store(first, "example-plugin", "s", "value")
    close(first)
    rotating = await make_datasette(tmp_path, config=config(["new", "old"]))
    assert await secrets.read(rotating, "example-plugin", "s") == "value"
    assert await secrets.rotate(rotating) == 1
    close(rotating)
    rotated = await make_datasette(tmp_path, config=config(["new"]))
    assert await secrets.check_keys(rotated) is None
    assert await secrets.read(rotated, "example-plugin", "s") == "value"
    close(rotated)


async def test_lost_key_is_detected_with_instructions(tmp_path, caplog):
    first = await make_datasette(tmp_path, secret="first-secret")
    await secrets.store(first, "example-plugin", "s", "value")
    close(first)
    second = await make_datasette(tmp_path, secret="random-per-start")
    assert "1 secret(s) stored in this internal database" in caplog.text
    assert "DATASETTE_SECRET" in caplog.text
    with pytest.raises(secrets.SecretsUnreadable, match="encryption_keys"):
        await secrets.read(second, "example-plugin", "s")
    close(second)


async def test_cross_site_post_with_cookie_is_refused(ds):
    body = {"plugin": "example-plugin", "key": "limit", "value": 5}
    response = await ds.client.post(
        "/-/internal/settings",
        json=body,
        actor={"id": "root"},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert await example_settings.get(ds, "limit") == 10


async def test_settings_api_refuses_odd_plugin_names_and_lone_surrogates(ds):
    for plugin in ([], ["x"], {"a": 1}, 3):
        response = await ds.client.post(
            "/-/internal/settings",
            json={"plugin": plugin, "key": "limit", "value": 1},
            actor={"id": "root"},
        )
        assert response.status_code == 400, plugin
    response = await ds.client.post(
        "/-/internal/settings",
        content=b'{"plugin": "example-plugin", "key": "tables", "value": ["\\ud800"]}',
        actor={"id": "root"},
    )
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["errors"][0]


async def test_settings_page_keeps_values_inside_their_attribute(ds):
    value = ['say "hi"', "x' autofocus onfocus=alert(1) y", "<script>"]
    await example_settings.set(ds, "tables", value)
    page = (await ds.client.get("/-/internal/settings", actor={"id": "root"})).text

    class Inputs(html.parser.HTMLParser):
        found = []

        def handle_starttag(self, tag, attrs):
            if tag == "input":
                self.found.append(dict(attrs))

    parser = Inputs()
    parser.feed(page)
    assert not [i for i in parser.found if "onfocus" in i or "autofocus" in i]
    assert value in [json.loads(i["value"]) for i in parser.found if "value" in i]


async def test_full_internal_db_gives_507_json_and_recovers(ds):
    body = {"plugin": "example-plugin", "key": "tables", "value": ["x" * 30_000]}
    async with internal_db_full(ds):
        full = await ds.client.post("/-/internal/settings", json=body, actor={"id": "root"})
    assert full.status_code == 507
    assert full.json()["ok"] is False and "full" in full.json()["errors"][0]
    assert await example_settings.get(ds, "tables") == []
    again = await ds.client.post("/-/internal/settings", json=body, actor={"id": "root"})
    assert again.status_code == 200
    check = await ds.get_internal_database().execute("pragma integrity_check")
    assert check.single_value() == "ok"


async def test_menu_links_internal_page_for_admins_only(ds, frozen_time):
    from datasette_internal_db.answers import ANSWER_SECONDS

    root = await ds.client.get("/", actor={"id": "root"})
    assert 'href="/-/internal"' in root.text
    alice = await ds.client.get("/", actor={"id": "alice"})
    assert 'href="/-/internal"' not in alice.text
    # The link's answer is reused for a second; the page itself always checks.
    ds.config = {"permissions": {"internal-db-admin": {"id": "alice"}}}
    assert 'href="/-/internal"' not in (await ds.client.get("/", actor={"id": "alice"})).text
    assert (await ds.client.get("/-/internal.json", actor={"id": "alice"})).status_code == 200
    frozen_time.advance(ANSWER_SECONDS)
    assert 'href="/-/internal"' in (await ds.client.get("/", actor={"id": "alice"})).text


async def test_settings_cache_and_audit_survive_a_restart(tmp_path):
    first = await make_datasette(tmp_path)
    await example_settings.set(first, "paused", True, actor_id="alice")
    await example_cache.set(first, "kept", {"v": 1}, ttl=0)
    await audit.record(first, "example-plugin", "revoke", actor={"id": "alice"})
    close(first)
    second = await make_datasette(tmp_path)
    assert await example_settings.get(second, "paused") is True
    assert await example_cache.get(second, "kept") == {"v": 1}
    assert [e["action"] for e in await audit.entries(second, plugin="example-plugin")] == ["revoke"]
    close(second)


def test_a_configured_runtime_setting_out_of_bounds_stops_startup(tmp_path):
    config = tmp_path / "datasette.yaml"
    config.write_text("plugins:\n  datasette-internal-db:\n    audit_retention_days: -5\n")
    result = subprocess.run(
        [sys.executable, "-m", "datasette", "serve", "--memory", "-c", str(config), "--get", "/"],
        capture_output=True,
        text=True,
        env={**os.environ, "DATASETTE_LOAD_PLUGINS": "datasette-internal-db"},
    )
    assert result.returncode == 1
    assert "plugins.datasette-internal-db.audit_retention_days in datasette.yaml" in result.stderr


async def test_audit_entries_past_the_retention_are_deleted_at_startup(tmp_path, frozen_time):
    # README: audit_retention_days "audit entries older than this are deleted at startup".
    first = await make_datasette(tmp_path)
    response = await first.client.post(
        "/-/internal/settings",
        json={"plugin": "datasette-internal-db", "key": "audit_retention_days", "value": 30},
        actor={"id": "root"},
    )
    assert response.status_code == 200, response.text
    await audit.record(first, "example-plugin", "old", actor={"id": "alice"})
    frozen_time.advance(20 * 86400)
    await audit.record(first, "example-plugin", "recent", actor={"id": "alice"})
    close(first)
    frozen_time.advance(15 * 86400)  # "old" is now 35 days old, "recent" 15
    second = await make_datasette(tmp_path)
    kept = await audit.entries(second, plugin="example-plugin")
    assert [entry["action"] for entry in kept] == ["recent"]
    close(second)


async def test_a_refused_settings_post_changes_nothing(ds):
    # README: route's `action` is "checked before the handler, refused → 403".
    body = {"plugin": "example-plugin", "key": "limit", "value": 99}
    for actor in (None, {"id": "alice"}):
        response = await ds.client.post("/-/internal/settings", json=body, actor=actor)
        assert response.status_code == 403
        assert response.json()["ok"] is False
    assert await example_settings.get(ds, "limit") == 10
    assert await example_settings.history(ds, "limit") == []


async def test_locked_internal_db_gives_503_with_retry_after_and_recovers(ds):
    # README: a write "refused as locked gives `503` with `Retry-After: 1`; nothing is stored
    # half-way and the next write succeeds".
    body = {"plugin": "example-plugin", "key": "limit", "value": 5}
    async with internal_db_locked(ds):
        locked = await ds.client.post("/-/internal/settings", json=body, actor={"id": "root"})
    assert locked.status_code == 503
    assert locked.headers["retry-after"] == "1"
    assert locked.json()["ok"] is False and "busy" in locked.json()["errors"][0]
    assert await example_settings.get(ds, "limit") == 10
    assert await example_settings.history(ds, "limit") == []
    again = await ds.client.post("/-/internal/settings", json=body, actor={"id": "root"})
    assert again.status_code == 200, again.text
    assert await example_settings.get(ds, "limit") == 5


async def test_setting_bounds_are_enforced_on_every_change(ds):
    # README: "`minimum`/`maximum` bound a number (integers always stay within 64 bits)".
    for value in (0, 36_501):
        response = await ds.client.post(
            "/-/internal/settings",
            json={"plugin": "datasette-internal-db", "key": "audit_retention_days", "value": value},
            actor={"id": "root"},
        )
        assert response.status_code == 400, value
        assert response.json() == {
            "ok": False,
            "errors": ["Setting 'audit_retention_days' must be from 1 to 36500"],
        }
    for value in (2**63, -(2**63) - 1):  # no bounds declared: SQLite's 64 bits still apply
        with pytest.raises(InvalidInput, match="must be from"):
            await example_settings.set(ds, "limit", value)
    with pytest.raises(InvalidInput, match="must be from"):
        await example_settings.set(ds, "ratio", float("nan"))
    assert await core_settings.get(ds, "audit_retention_days") == 365
    assert await example_settings.get(ds, "limit") == 10


def test_tokens_are_sha256_and_checked_with_compare_digest(monkeypatch):
    # README: "high-entropy tokens stored only as SHA-256, checked with `hmac.compare_digest`".
    token = secrets.new_token("dsi_")
    stored = secrets.hash_token(token)
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    compared = []
    real_compare = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert secrets.verify_token(token, stored) is True
    assert secrets.verify_token("dsi_wrong", stored) is False
    assert compared == [(stored, stored), (secrets.hash_token("dsi_wrong"), stored)]


async def test_cache_bound_drops_only_its_own_namespace(tmp_path, frozen_time):
    # README: Cache is "bounded per namespace": filling one never evicts another's entries.
    small = Cache("example-small", max_entries=3)
    other = Cache("example-other", max_entries=3)
    first = await make_datasette(tmp_path)
    await other.set(first, "kept", "value", ttl=0)
    for n in range(10):
        frozen_time.advance(1)
        await small.set(first, f"k{n}", n, ttl=0)
    close(first)
    # A fresh instance: no memory in front of the table, so this is what the table kept.
    second = await make_datasette(tmp_path)
    assert await other.get(second, "kept") == "value"
    assert await small.get_many(second, [f"k{n}" for n in range(10)]) == {
        "k7": 7,
        "k8": 8,
        "k9": 9,
    }
    close(second)


async def test_job_progress_is_written_at_most_every_half_second(ds, frozen_time):
    # cookbook/jobs.md: "Progress is written at most every half second, so advance() in a tight
    # loop costs little".
    reached, go = asyncio.Queue(), asyncio.Queue()

    async def work(job):
        for _ in range(2):
            for _ in range(5):
                await job.advance()
            await reached.put(None)
            await go.get()

    job_id = await jobs.start(ds, "example-plugin", "tight", work, total=10)
    await reached.get()
    assert (await jobs.get(ds, job_id))["done"] == 1  # only the first advance was written
    frozen_time.advance(0.5)
    await go.put(None)
    await reached.get()
    assert (await jobs.get(ds, job_id))["done"] == 6  # the first one half a second later
    await go.put(None)
    await jobs.wait(job_id)
    assert (await jobs.get(ds, job_id))["done"] == 10  # and the last, when the job ends
