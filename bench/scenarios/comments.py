"""Comments: thread and badge latency with 1,000,000 comments; table page overhead."""

NAME = "comments"
PLUGIN = "datasette-internal-comments"
FIGURES = [
    ("comments.thread_p99", "Comments: one row's threads, p99", "p99 <= 10 ms"),
    ("comments.badges", "Comments: badge counts for a 100-row page, one query", "<= 5 ms"),
    ("comments.table_page", "Comments: table page, plugin vs without", "ratio <= 1.05"),
]
