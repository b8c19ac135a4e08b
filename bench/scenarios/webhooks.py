"""Webhooks: deliveries/s, `/-/insert` overhead, write-to-delivery latency."""

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
