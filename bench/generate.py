"""Deterministic data sets, written with bulk executemany before any server starts.

Internal files are first created by ``datasette internal init`` with the plugins loaded, so every
table, index, trigger and FTS table comes from the plugins' own migrations.
"""

import os
import random
import sqlite3
import subprocess
import sys

CORE = "datasette-internal-db"
SEED = 20261126


def rng(name):
    """A random generator per data set, so each set is the same whatever else is generated."""
    return random.Random(f"{SEED}-{name}")


def fresh(path):
    """``path`` with no file left from an earlier run: a stale -wal would be replayed into it."""
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    return path


def init_internal(path, plugins):
    environment = dict(os.environ, DATASETTE_LOAD_PLUGINS=",".join([CORE, *plugins]))
    result = subprocess.run(
        [sys.executable, "-m", "datasette", "internal", "init", str(path)],
        env=environment,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(f"datasette internal init failed:\n{result.stdout}{result.stderr}")


def data_db(path, rows):
    """A user database: ``items`` with ``rows`` rows (integer primary key), 100 per page."""
    random_values = rng("items")
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "create table items (id integer primary key, name text, category text, value real)"
        )
        conn.executemany(
            "insert into items values (?, ?, ?, ?)",
            (
                (i, f"item {i}", random_values.choice("abcdefgh"), random_values.random() * 1000)
                for i in range(1, rows + 1)
            ),
        )
    conn.close()


def bulk(conn):
    """Pragmas for a one-off bulk load of a file no server has open yet: no journal (a WAL
    would write every page twice); ``run.py`` puts the file back in WAL mode afterwards.
    """
    conn.execute("pragma journal_mode=off")
    conn.execute("pragma synchronous=off")
    conn.execute("pragma cache_size=-200000")
    return conn
