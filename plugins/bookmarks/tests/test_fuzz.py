"""Random JSON at every write API: always an answer below 500, never a half-stored row."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "/data/places",
            "//evil.example",
            "/data/places/1",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2027-02-30",
            "api",
            "fr-places",
            "%",
            "/%zz",
        ]
    ),
)
VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    TEXT,
    st.lists(TEXT, max_size=3),
)
LINK_FIELDS = st.sampled_from(["target", "title", "code", "expires_at", "max_visits", "disabled"])
BOOKMARK_FIELDS = st.sampled_from(["url", "title", "note", "tags", "shared"])


def bodies(fields, required, valid):
    """Random objects, half of them with a valid ``required`` field so the others get checked."""
    random = st.dictionaries(fields, VALUE, max_size=5)
    return st.one_of(random, random.map(lambda body: {**body, required: valid}))


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    link=bodies(LINK_FIELDS, "target", "/data/places"),
    bookmark=bodies(BOOKMARK_FIELDS, "url", "/data/places?country=fr"),
)
async def test_random_input_never_500(ds, alice, link, bookmark):
    created = await ds.client.post(
        "/-/l/api/links",
        content=json.dumps(link),
        cookies=alice,
        headers={"content-type": "application/json"},
    )
    assert created.status_code in (201, 400), created.text
    if created.status_code == 201:
        code = created.json()["link"]["code"]
        changed = await ds.client.post(
            f"/-/l/api/links/{code}",
            content=json.dumps(link),
            cookies=alice,
            headers={"content-type": "application/json"},
        )
        assert changed.status_code in (200, 400), changed.text
        followed = await ds.client.get(f"/-/l/{code}")
        assert followed.status_code in (302, 403, 404, 410), followed.text
        await ds.client.delete(f"/-/l/api/links/{code}", cookies=alice)
    saved = await ds.client.post(
        "/-/bookmarks/api/bookmarks",
        content=json.dumps(bookmark),
        cookies=alice,
        headers={"content-type": "application/json"},
    )
    assert saved.status_code in (200, 201, 400), saved.text
    if saved.status_code in (200, 201):
        bookmark_id = saved.json()["bookmark"]["id"]
        changed = await ds.client.post(
            f"/-/bookmarks/api/bookmarks/{bookmark_id}",
            cookies=alice,
            content=json.dumps({k: v for k, v in bookmark.items() if k != "url"}),
            headers={"content-type": "application/json"},
        )
        assert changed.status_code in (200, 400), changed.text
        await ds.client.delete(f"/-/bookmarks/api/bookmarks/{bookmark_id}", cookies=alice)
