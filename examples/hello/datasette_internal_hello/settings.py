"""The plugin's handle on core. Its name fixes the migration set, the table prefix
(``datasette_internal_hello_*``) and where its settings, audit entries and secrets are filed."""

from datasette_internal_db import Plugin, Setting

plugin = Plugin(
    "datasette-internal-hello",
    settings=[
        Setting(
            "max_length",
            int,
            280,
            "The longest greeting, in characters",
            minimum=1,
            maximum=10_000,
        ),
    ],
)
