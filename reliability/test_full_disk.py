"""A full internal disk: every refused write is a clear 503/507 JSON answer, and the log stays
free of tracebacks (the routes' core `route()` answers the storage error itself, so Datasette's
default exception handler never logs one). Once an open bug kept outside the suite; fixed.
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
    with client(server) as http:
        limit_disk(http, server.actors.root, extra_pages=20)
        try:
            refused = [r for r in fill_disk(server, 40, prefix="full") if isinstance(r, str)]
        finally:
            limit_disk(http, server.actors.root, extra_pages=None)
    assert refused
    assert [r for r in refused if r.split()[1] not in ("503", "507") or "{" not in r] == []
    assert tracebacks(server) == ""
