"""Build a realistic sample database for the demo, deterministically and offline.

python scripts/make_sample_db.py demo/sample.db
"""

import random
import sys
from datetime import date, timedelta
from pathlib import Path

import sqlite_utils

SPECIES = [
    ("Eurasian otter", "Lutra lutra", "mammal"),
    ("Grey heron", "Ardea cinerea", "bird"),
    ("Common kingfisher", "Alcedo atthis", "bird"),
    ("Brown trout", "Salmo trutta", "fish"),
    ("Great crested newt", "Triturus cristatus", "amphibian"),
    ("European eel", "Anguilla anguilla", "fish"),
    ("Water vole", "Arvicola amphibius", "mammal"),
    ("Dipper", "Cinclus cinclus", "bird"),
    ("Beaver", "Castor fiber", "mammal"),
    ("Common frog", "Rana temporaria", "amphibian"),
]
RIVERS = ["Severn", "Thames", "Trent", "Wye", "Tweed", "Tay", "Dee", "Spey"]
OBSERVERS = ["alice", "bob", "carol", "dan", "erin", "frank"]


def build(path):
    path = Path(path)
    path.unlink(missing_ok=True)
    rng = random.Random(2026)
    db = sqlite_utils.Database(path)
    db["species"].insert_all(
        (
            {"id": i + 1, "common_name": c, "latin_name": latin, "group": g}
            for i, (c, latin, g) in enumerate(SPECIES)
        ),
        pk="id",
    )
    db["stations"].insert_all(
        (
            {
                "id": i + 1,
                "name": f"{river} station {n}",
                "river": river,
                "latitude": round(50 + rng.random() * 7, 5),
                "longitude": round(-5 + rng.random() * 6, 5),
            }
            for i, (river, n) in enumerate((r, n) for r in RIVERS for n in range(1, 4))
        ),
        pk="id",
    )
    start = date(2026, 1, 1)
    db["sightings"].insert_all(
        (
            {
                "id": i + 1,
                "species_id": rng.randint(1, len(SPECIES)),
                "station_id": rng.randint(1, len(RIVERS) * 3),
                "observed_on": str(start + timedelta(days=rng.randint(0, 320))),
                "count": rng.choice([1, 1, 1, 2, 2, 3, 5, 8]),
                "observer": rng.choice(OBSERVERS),
                "notes": rng.choice(["", "", "near the weir", "juvenile", "pair", "at dusk"]),
            }
            for i in range(5000)
        ),
        pk="id",
        foreign_keys=[("species_id", "species"), ("station_id", "stations")],
    )
    db["sightings"].create_index(["observed_on"])
    db["sightings"].enable_fts(["notes", "observer"])
    print(f"Built {path}: {len(SPECIES)} species, {len(RIVERS) * 3} stations, 5,000 sightings")


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else "sample.db")
