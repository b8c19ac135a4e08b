from datasette_internal_db.testing import frozen_time  # noqa: F401
