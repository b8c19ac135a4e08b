"""The link-rot scan: a core job that checks each of an actor's bookmarks against Datasette's
catalog and returns the broken ones, which the job's page lists with links to fix them."""

import sqlite3

from . import store, store_bookmarks
from .access import actor_id, may_view
from .settings import plugin
from .targets import stored_target

SCAN_BATCH = 100
MAX_LISTED = 500


async def reason_broken(datasette, actor, target):
    """Why the target cannot be shown to the actor any more, or None."""
    if not await may_view(datasette, actor, target):
        # Checked first, so the scan cannot be used to probe data the actor may not see.
        return "you may no longer view this page"
    return await store.missing_part(datasette, target)


def result(datasette, broken, checked):
    count = len(broken)
    summary = f"{count} of {checked} bookmark{'s' if checked != 1 else ''} broken"
    if count > MAX_LISTED:
        summary += f" (the first {MAX_LISTED} are listed)"
    items = [
        {
            "label": bookmark["title"],
            "href": datasette.urls.path(f"/-/bookmarks/{bookmark['id']}/edit"),
            "detail": f"{reason} — edit or delete it",
        }
        for bookmark, reason in broken[:MAX_LISTED]
    ]
    return {"summary": summary, "items": items}


async def start_scan(datasette, actor):
    """Start the scan of the actor's bookmarks; returns the job id."""
    owner = actor_id(actor)
    ids = await store_bookmarks.owner_bookmark_ids(datasette, owner)

    async def work(job):
        await datasette.refresh_schemas()
        broken, checked = [], 0
        for start in range(0, len(ids), SCAN_BATCH):
            if await job.cancel_requested():
                break
            batch = await store_bookmarks.get_bookmarks(datasette, ids[start : start + SCAN_BATCH])
            results = []
            for bookmark in batch:
                try:
                    reason = await reason_broken(datasette, actor, stored_target(bookmark))
                except (sqlite3.Error, KeyError, ValueError) as error:
                    reason = None
                    await job.error(f"bookmark {bookmark['id']}: {error}")
                results.append((bookmark["id"], reason))
                if reason:
                    broken.append((bookmark, reason))
            await store_bookmarks.mark_checked(datasette, results)
            checked += len(batch)
            await job.advance(len(ids[start : start + SCAN_BATCH]))
        return result(datasette, broken, checked)

    return await plugin.jobs.start(datasette, "link-rot-scan", work, actor_id=owner, total=len(ids))
