"""What a Datasette start imports: nothing heavy that only some requests need."""

import os
import subprocess
import sys


def test_loading_core_does_not_import_markdown_it():
    probe = "import sys, datasette.app; print('datasette_internal_db' in sys.modules, end=' ');"
    probe += "print('markdown_it' in sys.modules)"
    answer = subprocess.run(
        [sys.executable, "-c", probe],
        env=dict(os.environ, DATASETTE_LOAD_PLUGINS="datasette-internal-db"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert answer.stdout.strip() == "True False", answer.stderr[-2000:]
    from datasette_internal_db import render_markdown

    assert render_markdown("*hi*") == "<p><em>hi</em></p>\n"
