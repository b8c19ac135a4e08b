"""Each package's long description is a short summary linking to its full README.

Datasette parses every installed plugin's whole METADATA file twice each time a ``Datasette``
object is made (``get_plugins()`` asks for the version, then the name), and the long description
is most of that file: with the full READMEs (300-600 lines each) that was ~5 ms of CPU on every
start, in every test of every suite that has these plugins installed. So ``readme`` in each
pyproject is ``README.pypi.md``, and README.md stays the full documentation in the repository.
"""

from importlib.metadata import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
REPOSITORY = "https://github.com/example-org/datasette-internal/blob/main"
PACKAGES = {
    "core": "datasette-internal-db",
    **{
        f"{p.parent.parent.name}/{p.parent.name}": f"datasette-internal-{p.parent.name}"
        for group in ("plugins", "examples")
        for p in sorted(ROOT.glob(f"{group}/*/pyproject.toml"))
    },
}
MAX_LINES = 30


@pytest.mark.parametrize("folder, name", PACKAGES.items())
def test_long_description_is_a_short_summary_of_the_full_readme(folder, name):
    installed = metadata(name).get_payload()
    assert len(installed.splitlines()) <= MAX_LINES
    assert f"({REPOSITORY}/{folder}/README.md)" in installed
    # Also proves the installed metadata is this tree's (an editable install keeps the
    # description it was made with until it is reinstalled).
    assert installed.strip() == (ROOT / folder / "README.pypi.md").read_text().strip()
