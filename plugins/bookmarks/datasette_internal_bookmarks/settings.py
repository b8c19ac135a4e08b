"""The plugin's handle on core. Its name fixes the migration set, the table prefix
(``datasette_internal_bookmarks_*``) and where its audit entries and jobs are filed."""

from datasette_internal_db import Plugin

PLUGIN = "datasette-internal-bookmarks"

plugin = Plugin(PLUGIN)
