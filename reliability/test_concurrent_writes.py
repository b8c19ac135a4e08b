"""50 concurrent clients write comments, bookmarks and webhook endpoints to one real server.

No user may see "database is locked" (or any 5xx), and every acknowledged write is stored.
"""

import asyncio
import time

import httpx
from reliability_helpers import cookie_header, integrity, make_data_db, rows, serve_all, tracebacks

CLIENTS = 50
WRITES_PER_CLIENT = 3


async def comment_writer(http, cookies, number):
    body = f"concurrent comment {number}"
    response = await http.post(
        "/-/comments/api/threads",
        json={"database": "data", "table": "species", "row": str(number % 5 + 1), "body": body},
        headers=cookie_header(cookies),
    )
    if response.status_code != 200:
        return "comments", None, f"{response.status_code} {response.text[:200]}"
    return "comments", (response.json()["thread"]["comments"][0]["id"], body), None


async def bookmark_writer(http, cookies, number):
    title = f"concurrent bookmark {number}"
    response = await http.post(
        "/-/bookmarks/api/bookmarks",
        json={"url": f"/data/species?name=c{number}", "title": title},
        headers=cookie_header(cookies),
    )
    if response.status_code != 201:
        return "bookmarks", None, f"{response.status_code} {response.text[:200]}"
    return "bookmarks", (response.json()["bookmark"]["id"], title), None


async def endpoint_writer(http, cookies, number):
    url = f"https://example.com/hook/{number}"
    # An event that never fires in this test: nothing is delivered to example.com.
    response = await http.post(
        "/-/webhooks/api/endpoints",
        json={"url": url, "event_types": ["thread-reopened"]},
        headers=cookie_header(cookies),
    )
    if response.status_code != 201:
        return "endpoints", None, f"{response.status_code} {response.text[:200]}"
    return "endpoints", (response.json()["endpoint"]["id"], url), None


async def run_clients(server):
    start = asyncio.Event()
    writers = [comment_writer, bookmark_writer, endpoint_writer]

    async def one_client(index):
        writer = writers[index % len(writers)]
        actor = "root" if writer is endpoint_writer else f"user{index}"
        cookies = server.cookies_for(actor)
        results = []
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            await start.wait()
            for step in range(WRITES_PER_CLIENT):
                began = time.monotonic()
                kind, item, error = await writer(http, cookies, index * 1000 + step)
                latencies.setdefault(kind, []).append(time.monotonic() - began)
                results.append((kind, item, error))
        return results

    latencies = {}
    tasks = [asyncio.create_task(one_client(index)) for index in range(CLIENTS)]
    await asyncio.sleep(0.2)
    started = time.monotonic()
    start.set()
    results = [result for task in await asyncio.gather(*tasks) for result in task]
    return results, time.monotonic() - started, latencies


def test_fifty_concurrent_writers_see_no_lock_errors_and_lose_nothing(tmp_path):
    server = serve_all(tmp_path, make_data_db(tmp_path / "data.db"))
    try:
        results, seconds, latencies = asyncio.run(run_clients(server))
        errors = [f"{kind}: {error}" for kind, _, error in results if error]
        assert errors == []
        assert "database is locked" not in server.log()
        assert tracebacks(server) == ""
        stored = {
            "comments": dict(
                rows(
                    server.internal_path,
                    "select id, body from datasette_internal_comments_comments",
                )
            ),
            "bookmarks": dict(
                rows(
                    server.internal_path,
                    "select id, title from datasette_internal_bookmarks_bookmarks",
                )
            ),
            "endpoints": dict(
                rows(
                    server.internal_path,
                    "select id, url from datasette_internal_webhooks_endpoints",
                )
            ),
        }
        missing = [
            (kind, item) for kind, item, _ in results if stored[kind].get(item[0]) != item[1]
        ]
        assert missing == []
        assert len(results) == CLIENTS * WRITES_PER_CLIENT
        assert integrity(server.internal_path) == "ok"
        print(
            f"{len(results)} writes from {CLIENTS} concurrent clients in {seconds:.2f}s "
            f"({len(results) / seconds:.0f} writes/s), 0 errors; worst latency "
            + ", ".join(f"{kind} {max(values):.2f}s" for kind, values in sorted(latencies.items()))
        )
    finally:
        server.stop()
