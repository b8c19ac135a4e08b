"""The scaling table: growth between sizes, rates turned into time, the goal on the ratio."""

import json

import scaling


def report(scale, figures):
    return {
        "finished": "2026-12-01 12:00",
        "duration_s": 60,
        "machine": {"commit": "abc1234", "load_average_at_start": [1.0, 1.0, 1.0]},
        "data_rows": {"small": 10_000, "default": 100_000, "large": 1_000_000}[scale],
        "large_contents": f"{scale} contents",
        "figures": figures,
    }


def row(key, unit, value, ratio=None):
    figure = {"key": key, "unit": unit, "value": {"median": value}}
    if ratio is not None:
        figure["ratio"] = {"median": ratio}
    return figure


def write(tmp_path, scale, figures):
    scaling.report_path(tmp_path, scale).write_text(json.dumps(report(scale, figures)))


def table_row(markdown, title):
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {title} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_growth_is_judged_on_the_ratio_over_the_largest_step(tmp_path):
    write(tmp_path, "small", [row("comments.thread_p99", "ms", 4.0, ratio=2.0)])
    write(tmp_path, "default", [row("comments.thread_p99", "ms", 5.0, ratio=2.0)])
    # Raw p99 doubled (a busier machine), the ratio to the same run's baseline grew 1.2x.
    write(tmp_path, "large", [row("comments.thread_p99", "ms", 10.0, ratio=2.4)])
    cells = table_row(scaling.render(tmp_path).read_text(), "Comments: one row's threads, p99")
    assert cells[1:4] == ["4 ms (2.00x)", "5 ms (2.00x)", "10 ms (2.40x)"]
    assert cells[4] == "1.25x (ratio 1.00x)"
    assert cells[5] == "2.00x (ratio 1.20x)"
    assert cells[6] == "**yes**"


def test_rates_grow_as_time_per_request(tmp_path):
    write(tmp_path, "default", [row("bookmarks.redirect", "req/s", 2000.0)])
    write(tmp_path, "large", [row("bookmarks.redirect", "req/s", 1000.0)])
    cells = table_row(
        scaling.render(tmp_path).read_text(), "Short links: `/-/l/<code>` redirects/s"
    )
    assert cells[5] == "2.00x"
    assert cells[6] == "**NO**"


def test_a_size_not_measured_leaves_its_cells_empty(tmp_path):
    write(tmp_path, "default", [row("core.startup", "s", 1.9)])
    markdown = scaling.render(tmp_path).read_text()
    cells = table_row(markdown, "Startup to first answer with the filled internal DB")
    assert cells[1:] == ["", "1.9 s", "", "", "", "—"]
    assert "| default | 2026-12-01 12:00 UTC, 60 s | abc1234 | 1.00 | 100,000 |" in markdown


def test_the_default_size_comes_from_the_newer_of_its_run_and_the_full_bench(tmp_path):
    write(tmp_path, "default", [row("core.startup", "s", 1.9)])
    full = report("default", [row("core.startup", "s", 2.5)])
    full["finished"] = "2026-12-01 13:00"
    (tmp_path / "benchmarks.json").write_text(json.dumps(full))
    cells = table_row(scaling.render(tmp_path).read_text(), scaling.FIGURES[-1][1])
    assert cells[2] == "2.5 s"
    full["finished"] = "2026-12-01 11:00"
    (tmp_path / "benchmarks.json").write_text(json.dumps(full))
    cells = table_row(scaling.render(tmp_path).read_text(), scaling.FIGURES[-1][1])
    assert cells[2] == "1.9 s"
