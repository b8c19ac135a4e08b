"""Comments: thread and badge latency with 1,000,000 comments; table page overhead; the write
path with email on vs off."""

import json
import sqlite3
import statistics
import threading
import time

import generate
import httpx
from aiosmtpd.controller import Controller
from datasette_internal_db.testing import free_port
from harness import (
    Target,
    figure,
    launch,
    launch_many,
    median_p50,
    memory_figure,
    paired_latencies,
    peak_rss_mib,
    percentile,
    ratios,
    rounds_of,
)

NAME = "comments"
PLUGIN = "datasette-internal-comments"
FIGURES = [
    ("comments.thread_p99", "Comments: one row's threads, p99", "p99 ratio <= 2.0"),
    ("comments.badges", "Comments: badge counts for a 100-row page, one query", "<= 5 ms"),
    ("comments.badges_http", "Comments: badge API, p50", "p50 ratio <= 2.0"),
    ("comments.table_page_alone", "Table page, comments vs core only", "ratio <= 1.05"),
    ("comments.table_page", "Table page, every plugin vs core only", "ratio <= 1.05"),
    (
        "comments.mention_email",
        "Comments: post a comment that mentions someone, email on vs off",
        "ratio <= 1.05",
    ),
]

THREADS = "datasette_internal_comments_threads"
COMMENTS = "datasette_internal_comments_comments"
REACTIONS = "datasette_internal_comments_reactions"
FTS = "datasette_internal_comments_fts"
THREADS_PER_ROW = 2  # one on the row, one on its `value` cell
COMMENTS_PER_THREAD = 5
BODY_POOL = 20_000
ACTORS = [f"user{i}" for i in range(50)]
READER = "reader"
# Table page requests per arm per round. Four identical core-only servers timed this way with 120
# pages each a round gave round ratios from 0.975 to 1.054 between themselves: the median of
# 120 pages of ~60 ms moves by about as much as the 5 % the goal allows. The spread of a median
# shrinks with the square root of the count: 200 pages give half the spread of the 60 used before.
PAGE_REQUESTS = 200
# Thread, badge and fixed-route requests per round. A p99 is the tenth-slowest of 1,000; of the
# 300 used before it was the third-slowest, and the floor's p99 moved from 3.2 to 5.6 ms between
# two runs of the same code.
API_REQUESTS = 1000
WORDS = (
    "data row value check source update wrong missing number total county count import looks "
    "fixed why note agree see above please confirm duplicate typo census field date"
).split()


def row_sample(rows):
    """500 rows of ``items`` spread over the table, the same in every run."""
    return [1 + (i * 7919) % rows for i in range(500)]


def table_pages(rows):
    """The 50 table pages both table-page figures time (also bench/page_ab.py)."""
    return [f"/data/items?_next={start}" for start in row_sample(rows)[:50]]


def sizes(ctx):
    return ctx.data_rows, ctx.data_rows * THREADS_PER_ROW * COMMENTS_PER_THREAD


def fill(ctx, path):
    """2 threads x 5 comments on every row of ``items`` (data.db), in the internal DB."""
    rows, comments = sizes(ctx)
    random = generate.rng(NAME)
    conn = generate.bulk(sqlite3.connect(path))
    # The FTS index is rebuilt once at the end: same index as the trigger builds, much faster.
    triggers = conn.execute(
        "select sql from sqlite_master where type = 'trigger' and tbl_name = ?", [COMMENTS]
    ).fetchall()
    with conn:
        for (name,) in conn.execute(
            "select name from sqlite_master where type = 'trigger' and tbl_name = ?", [COMMENTS]
        ).fetchall():
            conn.execute(f"drop trigger {name}")

        def threads():
            for row in range(1, rows + 1):
                for column in ("", "value"):
                    day = f"2026-{1 + row % 12:02d}-{1 + row % 28:02d}T10:00:00+00:00"
                    resolved = day if random.random() < 0.2 else None
                    yield (
                        "cell" if column else "row",
                        "data",
                        "items",
                        column,
                        str(row),
                        json.dumps([row]),
                        f"item {row}",
                        json.dumps(random.random() * 1000) if column else None,
                        random.choice(ACTORS),
                        day,
                        day,
                        resolved,
                        random.choice(ACTORS) if resolved else None,
                    )

        conn.executemany(
            f"insert into {THREADS} (target_type, database_name, table_name, column_name,"
            " row_key, row_pks, row_label, anchor_value, author_id, created_at,"
            " last_activity_at, resolved_at, resolved_by)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            threads(),
        )

        # Imported here: the suite reports an uninstalled plugin as "not measured" instead.
        from datasette_internal_comments.rendering import prepare

        # Stored as the plugin stores what people write: text plus the HTML rendered on write.
        # Rendering a million bodies would take minutes, so they come from a pool of distinct ones.
        pool = [
            prepare(" ".join(random.choices(WORDS, k=random.randint(4, 30))))
            for _ in range(BODY_POOL)
        ]

        def bodies():
            for thread in range(1, rows * THREADS_PER_ROW + 1):
                for _ in range(COMMENTS_PER_THREAD):
                    body = random.choice(pool)
                    yield (
                        thread,
                        random.choice(ACTORS),
                        body.text,
                        body.html,
                        body.html_version,
                        "2026-06-01T10:00:00+00:00",
                    )

        conn.executemany(
            f"insert into {COMMENTS} (thread_id, database_name, table_name, author_id, body,"
            " html, html_version, created_at) values (?, 'data', 'items', ?, ?, ?, ?, ?)",
            bodies(),
        )
        conn.executemany(
            f"insert or ignore into {REACTIONS} (comment_id, actor_id, emoji, created_at)"
            " values (?, ?, ?, '2026-06-01T10:00:00+00:00')",
            (
                (comment, random.choice(ACTORS), random.choice(["+1", "heart", "eyes"]))
                for comment in range(1, comments + 1, 7)
            ),
        )
        conn.execute(f"insert into {FTS} ({FTS}) values ('rebuild')")
        for (sql,) in triggers:
            conn.execute(sql)
    conn.close()
    return f"{comments:,} comments in {rows * THREADS_PER_ROW:,} threads over {rows:,} rows"


async def run(ctx):
    rows = ctx.data_rows
    requests = ctx.size(full=300, smoke=15)
    api_requests = ctx.size(full=API_REQUESTS, smoke=15)
    page_requests = ctx.size(full=PAGE_REQUESTS, smoke=3)
    baseline_internal = ctx.copy_empty("comments")

    def servers(name, plugins):
        """A server with ``plugins`` on the comments data, and the core-only baseline."""
        return launch_many(
            ctx.work,
            [
                dict(name=name, files=[ctx.data_db], internal=ctx.large_internal, plugins=plugins),
                dict(
                    name="comments-baseline",
                    files=[ctx.data_db],
                    internal=baseline_internal,
                    plugins=[],
                ),
            ],
        )

    with_plugin, without = servers("comments", [PLUGIN])
    try:
        cookies = {"ds_actor": with_plugin.cookies_for(READER)["ds_actor"]}
        sample = row_sample(rows)
        threads = Target(
            with_plugin.url,
            [f"/-/comments/api/threads?database=data&table=items&row={row}" for row in sample],
            cookies=cookies,
        )
        badge_paths = []
        for start in sample[:50]:
            start = min(start, rows - 100)
            badge_paths.append(
                "/-/comments/api/badges?database=data&table=items&"
                + "&".join(f"row={row}" for row in range(start + 1, start + 101))
            )
        badges = Target(with_plugin.url, badge_paths, cookies=cookies)
        # The same reader's cookie: Datasette reads the actor from it on every request, so the
        # APIs' ratio is what comments add, not what being signed in costs.
        floor = Target(with_plugin.url, ["/-/bench/redirect"], expect=(302,), cookies=cookies)
        pages = table_pages(rows)

        def page(server):
            # Each server signs cookies with its own secret.
            jar = {"ds_actor": server.cookies_for(READER)["ds_actor"]}
            return Target(server.url, pages, cookies=jar)

        async def query_ms():
            response = httpx.get(
                f"{with_plugin.url}/-/bench/comments-badge-query",
                params={"repeat": requests, "last": rows},
                timeout=120,
            )
            response.raise_for_status()
            return response.json()

        async def api_round():
            targets = {"threads": threads, "badges": badges, "floor": floor}
            latencies = await paired_latencies(targets, api_requests, ctx.warmup)
            query = await query_ms()
            return dict(latencies, query=query["ms"], query_baseline=query["baseline_ms"])

        # Steady state, as for the HTTP figures' warmup: every round times the same pages, so an
        # untimed pass first, or the first round's p99 is reading the file from disk.
        await query_ms()
        api = await rounds_of(ctx.rounds, api_round)
        memory = peak_rss_mib(with_plugin), peak_rss_mib(without)
        with_plugin.stop()
        without.stop()

        async def page_round(name, plugins):
            """One round of table pages on a fresh pair of servers: each process has its own
            speed for the same code (not from the hash seed; most likely its memory layout): two
            core-only servers differed by up to 0.7% for a whole run, so every round samples
            that anew instead of one pair for all."""
            nonlocal with_plugin, without
            with_plugin, without = servers(name, plugins)
            try:
                # One untimed pass over every page first: a fresh server reads and compiles
                # everything once.
                return await paired_latencies(
                    {"with": page(with_plugin), "without": page(without)},
                    page_requests,
                    max(ctx.warmup, len(pages)),
                )
            finally:
                with_plugin.stop()
                without.stop()

        # The table page with comments alone (issue 14's figure), then as a user of every
        # installed plugin gets it, on the same comments data.
        alone = await rounds_of(ctx.rounds, lambda: page_round("comments", [PLUGIN]))
        table = await rounds_of(
            ctx.rounds, lambda: page_round("comments-every-plugin", ctx.every_plugin)
        )
    finally:
        with_plugin.stop()
        without.stop()

    def per_round(key, p):
        return [percentile(values, p) for values in api[key]]

    thread_p99, floor_p99 = per_round("threads", 99), per_round("floor", 99)
    badges_p50, floor_p50 = per_round("badges", 50), per_round("floor", 50)
    query_p99, query_baseline_p99 = per_round("query", 99), per_round("query_baseline", 99)
    with_median = [percentile(values, 50) for values in table["with"]]
    without_median = [percentile(values, 50) for values in table["without"]]
    page_ratio = ratios(with_median, without_median)
    alone_median = [percentile(values, 50) for values in alone["with"]]
    alone_without = [percentile(values, 50) for values in alone["without"]]
    alone_ratio = ratios(alone_median, alone_without)
    thread_ratio = ratios(thread_p99, floor_p99)
    badge_ratio = ratios(badges_p50, floor_p50)
    floor_text = "fixed-redirect bench route, same server, same signed-in reader"
    return [
        figure(
            "comments.thread_p99",
            "Comments: one row's threads (`/-/comments/api/threads?...&row=`), p99",
            unit="ms",
            values=thread_p99,
            baseline=f"{floor_text}, p99",
            baseline_values=floor_p99,
            ratio_values=thread_ratio,
            goal="p99 ratio <= 2.0 (issue 17)",
            met=statistics.median(thread_ratio) <= 2.0,
            notes=f"p50 {median_p50(api['threads']):.1f} ms. "
            f"{api_requests} sequential requests per round (alternating with the baseline) as "
            f"signed-in `{READER}`, "
            "500 different rows with 2 threads x 5 comments each.",
        ),
        figure(
            "comments.badges",
            "Comments: badge counts for a 100-row page, one query (`store.badge_counts`), p99",
            unit="ms",
            values=query_p99,
            baseline="the same query on an in-memory copy of the plugin's tables with 2 threads "
            "on each of 1,000 rows (does not grow with the data), same server, p99",
            baseline_values=query_baseline_p99,
            ratio_values=ratios(query_p99, query_baseline_p99),
            goal="<= 5 ms",
            met=statistics.median(query_p99) <= 5,
            notes="timed inside the server by bench/plugins_dir (the query alone, through the "
            f"internal DB's read connection); {requests} queries per round, each for 100 "
            "consecutive rows that all have threads, the same pages every round, after one "
            "untimed pass over them; each followed by the baseline's query, so the ratio "
            "leaves out the machine's speed and the scaling table can judge its growth.",
        ),
        figure(
            "comments.badges_http",
            "Comments: badge API for a 100-row page (`/-/comments/api/badges`), p50 over HTTP",
            unit="ms",
            values=badges_p50,
            baseline=f"{floor_text}, p50",
            baseline_values=floor_p50,
            ratio_values=badge_ratio,
            goal="p50 ratio <= 2.0 (issue 17), or no separate request",
            met=statistics.median(badge_ratio) <= 2.0,
            notes="Table pages make no such request (their counts come with the page, see "
            "below); this API serves other clients and a table shown with only its key column.",
        ),
        figure(
            "comments.table_page_alone",
            "Table page `/data/items` (100 rows) with comments alone vs core only, median latency",
            unit="ms",
            values=alone_median,
            baseline="core only, same data, same run",
            baseline_values=alone_without,
            ratio_values=alone_ratio,
            goal="ratio <= 1.05 (issue 14)",
            met=statistics.median(alone_ratio) <= 1.05,
            notes="as signed-in `reader`, who may see comments: badge counts of the rows shown "
            "and the unread-mentions count come with the page (no separate request). "
            f"{page_requests} pages per arm per round, alternating with the baseline; "
            "each round on a fresh pair of servers.",
        ),
        figure(
            "comments.table_page",
            f"Table page `/data/items` (100 rows) with all {len(ctx.every_plugin)} plugins vs "
            "core only, median latency",
            unit="ms",
            values=with_median,
            baseline="core only, same data, same run",
            baseline_values=without_median,
            ratio_values=page_ratio,
            goal="ratio <= 1.05",
            met=statistics.median(page_ratio) <= 1.05,
            notes="the page itself, its rows' badge counts included (read while Datasette draws "
            "it, no separate request; the badge API above serves pages drawn without them). "
            f"{page_requests} pages per arm per round, alternating with the baseline; each round "
            "on a fresh pair of servers (one process's speed for the same code differs from "
            "another's by up to 0.7%, so one pair for every round would weigh one draw of it).",
        ),
        memory_figure(
            "comments.rss",
            "core + comments, after the thread and badge runs",
            memory[0],
            "core only",
            memory[1],
        ),
    ]


class CountingSink:
    """An SMTP server's handler that only counts what it accepts."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
        return "250 OK"


async def write_with_email(ctx):
    """Posting a reply that @mentions someone: email configured (a real SMTP server on
    127.0.0.1 receives every message) vs not, same plugin, fresh internal DBs."""
    requests = ctx.size(full=300, smoke=15)
    sink = CountingSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    block = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "security": "none",
        "from": "bench@bench.example",
        "base_url": "http://bench.example/",
    }
    arms = {}
    try:
        for name, config in (
            ("email-on", {"plugins": {PLUGIN: {"email": block}}}),
            ("email-off", None),
        ):
            arms[name] = launch(
                ctx.work,
                f"comments-{name}",
                [ctx.data_db],
                internal=ctx.copy_empty(f"comments-{name}"),
                plugins=[PLUGIN],
                config=config,
            )
        targets = {}
        for name, server in arms.items():
            cookies = {"ds_actor": server.cookies_for("writer")["ds_actor"]}
            thread = httpx.post(
                server.url + "/-/comments/api/threads",
                json={"database": "data", "table": "items", "row": "1", "body": "Start"},
                cookies=cookies,
            ).json()["thread"]
            targets[name] = Target(
                server.url,
                [f"/-/comments/api/threads/{thread['id']}/comments"],
                method="POST",
                cookies=cookies,
                json_body={"body": "Could you check this value, @user1?"},
            )
        posts = await rounds_of(ctx.rounds, lambda: paired_latencies(targets, requests, ctx.warmup))
        expected = ctx.rounds * (requests + ctx.warmup)
        deadline = time.monotonic() + 120
        while sink.count < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        delivered = sink.count
    finally:
        for server in arms.values():
            server.stop()
        smtp.stop()
    on = [percentile(values, 50) for values in posts["email-on"]]
    off = [percentile(values, 50) for values in posts["email-off"]]
    ratio = ratios(on, off)
    return [
        figure(
            "comments.mention_email",
            "Comments: post a reply that @mentions someone, email on vs off, median latency",
            unit="ms",
            values=on,
            baseline="same plugin without email configured, same run",
            baseline_values=off,
            ratio_values=ratio,
            goal="ratio <= 1.05",
            met=statistics.median(ratio) <= 1.05,
            notes=f"{requests} sequential posts per round per arm, alternating; with email on the "
            f"SMTP server on 127.0.0.1 received {delivered} of {expected} messages "
            "(each post queues one; the sender batches and sends them in the background).",
        )
    ]


RUNS = [run, write_with_email]
