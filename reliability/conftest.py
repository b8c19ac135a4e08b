"""Hypothesis profiles for the fuzz tests, chosen by FUZZ_PROFILE: ``short`` (the default, run
inside `nox -s tests`) or ``long`` (`nox -s fuzz`)."""

import os

from hypothesis import HealthCheck, settings

# Requests go to a real server, so an example takes milliseconds, not microseconds; huge bodies
# are generated on purpose. No example database: the suite must not write into the repository.
COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
# The short run inside `nox -s tests` is derandomized: the same examples every time, so the main
# test command never turns red by chance. The long run explores new examples on every run.
settings.register_profile("short", max_examples=40, derandomize=True, **COMMON)
settings.register_profile("long", max_examples=1500, **COMMON)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "short"))
