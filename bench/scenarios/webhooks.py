"""Webhooks: deliveries/s, `/-/insert` overhead, write-to-delivery latency."""

import json
import sqlite3
import time

import generate

NAME = "webhooks"
PLUGIN = "datasette-internal-webhooks"
FIGURES = [
    ("webhooks.deliveries", "Webhooks: deliveries/s to a local receiver", ">= 1,000/s"),
    (
        "webhooks.insert_overhead",
        "Webhooks: `/-/insert` latency, one endpoint vs none",
        "ratio <= 1.05",
    ),
    ("webhooks.write_to_delivery", "Webhooks: write-to-delivery latency, p50", "p50 <= 100 ms"),
]

ENDPOINTS = "datasette_internal_webhooks_endpoints"
MESSAGES = "datasette_internal_webhooks_messages"
DELIVERIES = "datasette_internal_webhooks_deliveries"
ATTEMPTS = "datasette_internal_webhooks_attempts"
HISTORY_ENDPOINT = "ep_bench_history"


def log_size(ctx):
    return ctx.size(full=1_000_000, smoke=5_000)


def fill(ctx, path):
    """A delivery log of one (disabled) endpoint: every message delivered in one attempt.

    Times are the last 24 hours before now, so the plugin's retention pruning keeps them.
    """
    count = log_size(ctx)
    random = generate.rng(NAME)
    now = time.time()
    start = now - 86_400
    step = 86_400 / count
    conn = generate.bulk(sqlite3.connect(path))
    with conn:
        conn.execute(
            f"insert into {ENDPOINTS} (id, url, event_types, active, disabled_reason, created_at,"
            " updated_at) values (?, 'https://receiver.example/hook', '[\"*\"]', 0,"
            " 'benchmark history', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
            [HISTORY_ENDPOINT],
        )
        # Sorted: the text primary key then grows at its end, several times faster to load.
        message_ids = sorted(f"msg_{random.getrandbits(96):024x}" for _ in range(count))
        conn.executemany(
            f"insert into {MESSAGES} (id, event_type, payload, created_at) values (?, ?, ?, ?)",
            (
                (
                    message_id,
                    "insert-rows",
                    json.dumps(
                        {
                            "type": "insert-rows",
                            "timestamp": start + i * step,
                            "data": {"database": "data", "table": "items", "num_rows": 1},
                        }
                    ),
                    start + i * step,
                )
                for i, message_id in enumerate(message_ids)
            ),
        )
        conn.executemany(
            f"insert into {DELIVERIES} (id, message_id, endpoint_id, status, attempts,"
            " next_attempt_at, last_status_code, created_at, updated_at)"
            " values (?, ?, ?, 'succeeded', 1, null, 200, ?, ?)",
            (
                (i + 1, message_id, HISTORY_ENDPOINT, start + i * step, start + i * step + 0.01)
                for i, message_id in enumerate(message_ids)
            ),
        )
        conn.executemany(
            f"insert into {ATTEMPTS} (delivery_id, message_id, endpoint_id, attempted_at,"
            " status_code, latency_ms, response_body, error, succeeded)"
            " values (?, ?, ?, ?, 200, ?, 'ok', null, 1)",
            (
                (
                    i + 1,
                    message_id,
                    HISTORY_ENDPOINT,
                    start + i * step + 0.01,
                    random.uniform(1, 30),
                )
                for i, message_id in enumerate(message_ids)
            ),
        )
    conn.close()
    return f"{count:,} delivery-log attempts (with their messages and deliveries)"
