"""Hypothesis profiles for the fuzz tests, chosen by FUZZ_PROFILE: ``short`` (the default, run
inside `nox -s tests`) or ``long`` (`nox -s fuzz`)."""

import os
import sys

from hypothesis import HealthCheck, settings

# Requests go to a real server, so an example takes milliseconds, not microseconds; huge bodies
# are generated on purpose. No example database: the suite must not write into the repository.
COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
# Both profiles are derandomized (seeded from each test's name): the same examples on every run,
# so a failure found once is found again, and the main test command never turns red by chance.
# To explore other examples, run pytest with --hypothesis-seed=N and FUZZ_PROFILE=explore.
settings.register_profile("short", max_examples=40, derandomize=True, **COMMON)
settings.register_profile("long", max_examples=1500, derandomize=True, **COMMON)
settings.register_profile("explore", max_examples=1500, **COMMON)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "short"))


def pytest_terminal_summary(terminalreporter):
    fuzz = sys.modules.get("test_fuzz_api")
    if fuzz is not None and fuzz.SENT:
        terminalreporter.write_line(fuzz.summary())
