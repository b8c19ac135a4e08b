"""Keeps the benchmark code alive: a tiny run of every scenario must succeed (no figures kept),
and bench/page_ab.py must time two servers on the data that run leaves."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import launch
from page_ab import check_removed, copy_database

ROOT = Path(__file__).parent.parent


def run(*args):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def smoke_work(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench-work")
    return run("bench/run.py", "--smoke", "--work", str(work)), work


def test_every_benchmark_runs_in_smoke_mode(smoke_work):
    result, _ = smoke_work
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "not measured" not in result.stdout, result.stdout[-3000:]


def test_page_ab_times_a_page_without_one_hook_against_core_only(smoke_work):
    _, work = smoke_work
    arms = ["core", "all,-datasette_internal_comments.render_cell"]
    result = run("bench/page_ab.py", "--work", str(work), "--rounds", "2", "--pages", "3", *arms)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rounds = re.findall(r"^round \d: .* = (\d+\.\d+)$", result.stdout, re.MULTILINE)
    assert len(rounds) == 2 and all(float(ratio) > 0 for ratio in rounds), result.stdout
    assert re.search(r"^median \d+\.\d+ \(", result.stdout, re.MULTILINE), result.stdout


def test_page_ab_refuses_a_hook_the_plugin_does_not_have(smoke_work):
    _, work = smoke_work
    arms = ["core", "all,-datasette_internal_comments.no_such_hook"]
    result = run("bench/page_ab.py", "--work", str(work), "--rounds", "1", "--pages", "3", *arms)
    assert result.returncode != 0
    assert "BENCH_WITHOUT_HOOKS" in result.stdout + result.stderr


def test_a_hook_left_in_the_server_is_caught(smoke_work):
    _, work = smoke_work
    internal = copy_database(work / "empty-internal.db", work / "check-internal.db")
    server = launch(
        work,
        "check",
        [work / "data.db"],
        internal=internal,
        plugins=["datasette-internal-comments"],
    )
    try:
        with pytest.raises(RuntimeError, match="still in"):
            check_removed(server, ["datasette_internal_comments.render_cell"])
        with pytest.raises(RuntimeError, match="is not in"):
            check_removed(server, ["datasette_internal_bookmarks.menu_links"])
    finally:
        server.stop()


def test_page_ab_runs_another_checkouts_code(smoke_work, tmp_path):
    _, work = smoke_work
    package = tmp_path / "checkout" / "core" / "datasette_internal_db"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('raise ImportError("core from the other checkout")\n')
    arms = ["core", f"core,@{tmp_path / 'checkout'}"]
    result = run("bench/page_ab.py", "--work", str(work), "--rounds", "1", "--pages", "3", *arms)
    assert result.returncode != 0
    assert "core from the other checkout" in result.stdout + result.stderr


def test_page_ab_refuses_data_made_without_a_plugin_it_times(smoke_work, tmp_path):
    _, work = smoke_work
    other = tmp_path / "bookmarks-only"
    shutil.copytree(work, other, ignore=shutil.ignore_patterns("*.db-*", "ab-*", "check*"))
    stamp = json.loads((other / "data.json").read_text())
    stamp["made_for"]["plugins"] = ["datasette-internal-bookmarks"]
    (other / "data.json").write_text(json.dumps(stamp))
    result = run(
        "bench/page_ab.py", "--work", str(other), "--rounds", "1", "--pages", "3", "core", "all"
    )
    assert result.returncode != 0
    assert "has none of datasette-internal-comments, datasette-internal-webhooks" in result.stderr
