"""Importing any of the packages before Datasette must not cost a plugin its hooks.

Importing ``datasette.plugins`` loads every installed plugin's entry point. If a package did that
while a plugin that imported it was still initialising, pluggy would register that plugin with
the hook functions defined so far: none. Each case runs in a fresh interpreter.
"""

import json
import subprocess
import sys

import pytest

PACKAGES = {
    "datasette-internal-db": "datasette_internal_db",
    "datasette-internal-comments": "datasette_internal_comments",
    "datasette-internal-bookmarks": "datasette_internal_bookmarks",
    "datasette-internal-webhooks": "datasette_internal_webhooks",
    "datasette-internal-hello": "datasette_internal_hello",
}

REPORT = """
import json
import {first}
from datasette.app import Datasette
from datasette.plugins import pm
from datasette_internal_db.lifecycle import migration_sets

print(json.dumps({{
    "sets": [s.name for s in migration_sets(Datasette())],
    "routes": sorted(i.plugin_name for i in pm.hook.register_routes.get_hookimpls()),
}}))
"""


def report(first):
    result = subprocess.run(
        [sys.executable, "-c", REPORT.format(first=first)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("first", ["datasette.app", *PACKAGES.values()])
def test_every_plugin_keeps_its_hooks_whatever_is_imported_first(first):
    found = report(first)
    assert found == report("datasette.app")
    assert set(found["sets"]) == set(PACKAGES)
    assert len(found["routes"]) >= len(PACKAGES)
