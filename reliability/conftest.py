"""Hypothesis profiles for the fuzz tests: FUZZ_PROFILE=short (default, inside `nox -s tests`)
or FUZZ_PROFILE=long (`nox -s fuzz`)."""

import os

from hypothesis import HealthCheck, settings

# Requests go to a real server, so an example takes milliseconds, not microseconds; huge bodies
# are generated on purpose. No example database: the suite must not write into the repository.
COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("short", max_examples=60, **COMMON)
settings.register_profile("long", max_examples=1500, **COMMON)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "short"))
