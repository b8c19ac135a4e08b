"""A plugins-dir plugin whose second migration step is slow: the SIGKILL-mid-migration test.

Step 2 inserts rows, touches the file named by SLOW_MIGRATION_MARKER (so the test knows the
step is under way and uncommitted), then sleeps SLOW_MIGRATION_SECONDS before returning.
"""

import os
import time

from datasette import hookimpl
from sqlite_utils import Migrations

ROWS = 2000

migrations = Migrations("reliability-slow")


@migrations()
def m001_items(db):
    db.execute("create table reliability_slow_items (id integer primary key, n integer)")


@migrations()
def m002_fill_items(db):
    for n in range(ROWS):
        db.execute("insert into reliability_slow_items (n) values (?)", [n])
    marker = os.environ.get("SLOW_MIGRATION_MARKER")
    if marker:
        with open(marker, "w") as f:
            f.write("filling")
    time.sleep(float(os.environ.get("SLOW_MIGRATION_SECONDS", "0")))


@hookimpl
def register_internal_migrations(datasette):
    return migrations
