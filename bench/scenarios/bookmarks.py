"""Bookmarks: short-link redirect throughput; list page latency with 100,000 bookmarks."""

NAME = "bookmarks"
PLUGIN = "datasette-internal-bookmarks"
FIGURES = [
    (
        "bookmarks.redirect",
        "Short links: `/-/l/<code>` redirects/s vs fixed-redirect route",
        "ratio >= 0.8",
    ),
    ("bookmarks.list_p99", "Bookmarks: list page with 100,000 bookmarks, p99", "p99 <= 20 ms"),
]
