"""Names shared by every module; imports nothing, so the hook module can load it early."""

PLUGIN = "datasette-internal-webhooks"
MANAGE = "webhooks-manage"
VIEW_LOG = "webhooks-view-log"
