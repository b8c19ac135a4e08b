import pytest
from datasette_internal_bookmarks.targets import Target, normalize, parse_target
from datasette_internal_db.paths import UnsafePath
from datasette_internal_db.testing import UNSAFE_REDIRECTS


@pytest.mark.parametrize("value", UNSAFE_REDIRECTS)
def test_unsafe_urls_are_refused(value):
    # The check itself is core's paths.local_path (tested there); bookmarks must go through it.
    with pytest.raises(UnsafePath):
        normalize(value)


def test_normalize_makes_one_key_per_view():
    first = normalize("/data/places/?country=fr&_sort=name&_size=10")
    second = normalize("/data/places?_sort=name&country=fr&_next=5#top")
    assert first == second == "/data/places?_sort=name&country=fr"
    assert normalize("/prefix/data/places?b=1&a=2", "/prefix/") == "/data/places?a=2&b=1"
    # Repeated parameters keep their order: the facet order is visible on the page.
    assert normalize("/d/t?_facet=b&x=1&_facet=a") == "/d/t?_facet=b&_facet=a&x=1"


@pytest.mark.parametrize(
    "path,expected",
    [
        ("/", Target("instance")),
        ("/-/bookmarks", Target("instance")),
        ("/data", Target("database", "data")),
        ("/data.json", Target("database", "data")),
        ("/data?sql=select+1", Target("sql", "data")),
        ("/data/-/query?sql=select+1", Target("sql", "data")),
        ("/data/-/schema", Target("database", "data")),
        ("/data/places", Target("table", "data", "places")),
        ("/data/places.json?country=fr", Target("table", "data", "places")),
        ("/data/my~2Etable", Target("table", "data", "my.table")),
        ("/data/places/3", Target("row", "data", "places", "3")),
        ("/data/places/3.json", Target("row", "data", "places", "3")),
        ("/data/places/-/count", Target("table", "data", "places")),
    ],
)
def test_parse_target_reads_paths_like_the_router(path, expected):
    assert parse_target(path) == expected
