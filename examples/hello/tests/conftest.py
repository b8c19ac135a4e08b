import pytest
from datasette_internal_db.testing import close, frozen_time, make_datasette  # noqa: F401


@pytest.fixture
async def ds(tmp_path):
    datasette = await make_datasette(tmp_path)
    yield datasette
    close(datasette)
