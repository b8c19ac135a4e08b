"""core's own pages: /-/internal, audit, settings and jobs, as browsers and API clients see them."""

import asyncio

from datasette_internal_db import audit, clock, jobs

ROOT = {"id": "root"}
ALICE = {"id": "alice"}


async def test_admin_pages_refuse_browsers_with_a_page_and_api_clients_with_json(ds):
    for path in ("/-/internal", "/-/internal/audit", "/-/internal/settings"):
        page = await ds.client.get(path, actor=ALICE)
        assert page.status_code == 403, path
        assert "text/html" in page.headers["content-type"]
        assert "Permission denied: internal-db-admin is required" in page.text
        assert '<p class="crumbs">' in page.text
        api = await ds.client.get(path + ".json", actor=ALICE)
        assert api.status_code == 403
        assert api.json() == {
            "ok": False,
            "errors": ["Permission denied: internal-db-admin is required"],
        }


async def test_status_page_has_breadcrumbs_and_links_to_jobs(ds):
    html = (await ds.client.get("/-/internal/audit", actor=ROOT)).text
    assert (
        '<a href="/-/internal">Internal database</a> / <span aria-current="page">Audit log' in html
    )
    status = (await ds.client.get("/-/internal", actor=ROOT)).text
    assert 'href="/-/internal/jobs"' in status


async def start_and_finish(ds, actor_id, kind, result=None, fail=False):
    async def work(job):
        await job.advance()
        if fail:
            await job.error("the second item could not be read")
        return result

    job_id = await jobs.start(ds, "example-plugin", kind, work, actor_id=actor_id, total=1)
    await jobs.wait(job_id)
    return job_id


async def test_jobs_list_shows_admins_everything_and_others_their_own(ds):
    mine = await start_and_finish(ds, "alice", "alice-scan")
    theirs = await start_and_finish(ds, "bob", "bob-scan")
    alice = (await ds.client.get("/-/internal/jobs.json", actor=ALICE)).json()
    assert [job["id"] for job in alice["jobs"]] == [mine]
    root = (await ds.client.get("/-/internal/jobs.json", actor=ROOT)).json()
    assert {job["id"] for job in root["jobs"]} == {mine, theirs}
    page = await ds.client.get("/-/internal/jobs", actor=ALICE)
    assert "alice-scan" in page.text and "bob-scan" not in page.text
    anonymous = await ds.client.get("/-/internal/jobs")
    assert anonymous.status_code == 403 and "text/html" in anonymous.headers["content-type"]


async def test_jobs_list_pages_with_next_url(ds):
    made = [await start_and_finish(ds, "alice", f"scan-{n}") for n in range(5)]
    seen, url = [], "/-/internal/jobs.json?_size=2"
    while url:
        answer = (await ds.client.get(url, actor=ALICE)).json()
        seen.extend(job["id"] for job in answer["jobs"])
        url = answer["next_url"]
    assert sorted(seen) == sorted(made) and len(seen) == 5


async def test_job_page_shows_result_items_and_errors(ds):
    result = {
        "summary": "2 of 3 bookmarks are broken",
        "items": [
            {"label": "<b>Broken</b> one", "href": "/-/bookmarks/1", "detail": "404"},
            {"label": "Another", "href": None, "detail": ""},
        ],
    }
    job_id = await start_and_finish(ds, "alice", "link-rot", result=result, fail=True)
    page = await ds.client.get(f"/-/internal/jobs/{job_id}", actor=ALICE)
    assert page.status_code == 200
    assert "2 of 3 bookmarks are broken" in page.text
    assert '<a href="/-/bookmarks/1">&lt;b&gt;Broken&lt;/b&gt; one</a>' in page.text
    assert "the second item could not be read" in page.text
    assert '<a href="/-/internal/jobs">Jobs</a>' in page.text
    data = (await ds.client.get(f"/-/internal/jobs/{job_id}.json", actor=ALICE)).json()
    assert data["job"]["result"] == result
    hidden = await ds.client.get(f"/-/internal/jobs/{job_id}", actor={"id": "bob"})
    assert hidden.status_code == 404


async def test_job_cancel_is_post_only(ds):
    job_id = await start_and_finish(ds, "alice", "scan")
    wrong = await ds.client.get(f"/-/internal/jobs/{job_id}/cancel", actor=ALICE)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"


async def test_only_the_starter_or_an_admin_can_cancel_a_job(ds):
    # README: a job is visible to "the actor who started it" and internal-db-admin grants
    # "every job"; anyone else's POST to /-/internal/jobs/<id>/cancel finds no job.
    release = asyncio.Event()

    async def waits(job):
        await release.wait()

    job_id = await jobs.start(ds, "example-plugin", "long-scan", waits, actor_id="alice")
    try:
        for actor in (None, {"id": "bob"}):
            refused = await ds.client.post(f"/-/internal/jobs/{job_id}/cancel", actor=actor)
            assert refused.status_code == 404
            assert refused.json() == {"ok": False, "errors": ["Job not found"]}
        assert (await jobs.get(ds, job_id))["cancel_requested"] is False
        admin = await ds.client.post(f"/-/internal/jobs/{job_id}/cancel", actor=ROOT)
        assert admin.status_code == 200
        assert admin.json()["job"]["cancel_requested"] is True
    finally:
        release.set()
        await jobs.wait(job_id)
    assert (await jobs.get(ds, job_id))["status"] == "cancelled"


async def test_audit_json_filters_and_pages_with_next_url(ds, frozen_time):
    # README: GET /-/internal/audit.json?plugin=&action=&actor=&since=&_size=&_next= "newest
    # first, paged the Datasette way: follow next_url"; "before=<id> still works".
    for n in range(6):  # a day apart: grant, revoke, grant ... by alice three times, then bob
        if n == 3:
            since = clock.iso()  # the moment bob's first entry is written
        await audit.record(
            ds, "example-plugin", ("grant", "revoke")[n % 2], actor={"id": ("alice", "bob")[n // 3]}
        )
        frozen_time.advance(86400)
    await audit.record(ds, "other-plugin", "grant", actor={"id": "alice"})

    async def ids(query):
        answer = await ds.client.get(f"/-/internal/audit.json?{query}", actor=ROOT)
        assert answer.status_code == 200, answer.text
        return [entry["id"] for entry in answer.json()["entries"]]

    every = await ids("plugin=example-plugin")
    assert len(every) == 6 and every == sorted(every, reverse=True)
    oldest_first = list(reversed(every))
    assert await ids("plugin=example-plugin&action=grant") == oldest_first[::2][::-1]
    assert await ids("plugin=example-plugin&actor=bob") == every[:3]
    assert await ids("plugin=example-plugin&since=" + since) == every[:3]
    assert await ids(f"plugin=example-plugin&before={every[1]}") == every[2:]

    seen, url = [], "/-/internal/audit.json?plugin=example-plugin&_size=4"
    while url and len(seen) < 20:  # bounded: a next_url that does not move on fails, not hangs
        answer = (await ds.client.get(url, actor=ROOT)).json()
        seen.extend(entry["id"] for entry in answer["entries"])
        assert answer["next_url"] is None or "plugin=example-plugin" in answer["next_url"]
        url = answer["next_url"]
    assert seen == every
