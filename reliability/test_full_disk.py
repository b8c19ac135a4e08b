"""Open bugs found by the reliability suite, one reproduction each. Not collected by a plain
`pytest reliability` (the file name does not start with test_), so the suite stays green; run
them with `pytest reliability/known_bugs.py`. When a bug is fixed, move its test into the suite
and drop any exclusion of its input from the fuzz tests.
"""

import shutil

import pytest
from reliability_helpers import (
    Actors,
    client,
    make_data_db,
    serve_all,
    tracebacks,
)
from test_faults import FAULT_PLUGINS, fill_disk, limit_disk


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("known-bugs")
    plugins_dir = tmp_path / "plugins"
    plugins_dir.mkdir()
    shutil.copy(FAULT_PLUGINS / "disk_limit.py", plugins_dir)
    server = serve_all(
        tmp_path, make_data_db(tmp_path / "data.db"), extra_args=["--plugins-dir", str(plugins_dir)]
    )
    server.actors = Actors(server)
    yield server
    server.stop()


def test_a_full_disk_gives_clear_json_errors_and_no_traceback(server):
    """Today: the 507 JSON answer is right (core's handle_exception), but Datasette's default
    handle_exception runs too (the hook is not firstresult) and logs a traceback per refused
    write: a full disk floods the log. Fix: catch SQLITE_FULL before it leaves the route."""
    with client(server) as http:
        limit_disk(http, server.actors.root, extra_pages=20)
        try:
            refused = [r for r in fill_disk(server, 40, prefix="full") if isinstance(r, str)]
        finally:
            limit_disk(http, server.actors.root, extra_pages=None)
    assert refused
    assert [r for r in refused if r.split()[1] not in ("503", "507") or "{" not in r] == []
    assert tracebacks(server) == ""
