"""/-/internal pages: status, audit log, runtime settings, job progress; the menu link."""

import json
import weakref

from datasette.utils.asgi import Response

from . import audit, clock, jobs, status
from .database import get_internal_db
from .errors import InvalidInput
from .lifecycle import migration_sets
from .settings import registry as settings_registry
from .web import int_param, json_error, read_json_object

ADMIN = "internal-db-admin"
# The menu link is drawn on every HTML page: its permission answer is reused per actor for this
# long. It only shows the way; the pages themselves check on every request.
MENU_ANSWER_SECONDS = 5.0
MENU_ANSWER_ENTRIES = 10_000
_menu_answers = weakref.WeakKeyDictionary()  # datasette → {actor JSON: (until, allowed)}


async def admin_menu_links(datasette, actor):
    answers = _menu_answers.setdefault(datasette, {})
    key, now = json.dumps(actor, sort_keys=True, default=str), clock.now()
    found = answers.get(key)
    if found is None or found[0] <= now:
        if len(answers) >= MENU_ANSWER_ENTRIES:
            answers.clear()
        found = answers[key] = (
            now + MENU_ANSWER_SECONDS,
            await datasette.allowed(action=ADMIN, actor=actor),
        )
    if found[1]:
        return [{"href": datasette.urls.path("/-/internal"), "label": "Internal database"}]
    return []


async def is_admin(datasette, request):
    return await datasette.allowed(action=ADMIN, actor=request.actor)


async def internal_status(datasette, request):
    if not await is_admin(datasette, request):
        return json_error(403, "Permission denied: internal-db-admin is required")
    internal = get_internal_db(datasette)
    sets = migration_sets(datasette)
    info = await internal.execute_fn(lambda conn: status.collect(conn, sets))
    info["path"] = internal.path if not internal.is_temp_disk else None
    info["persistent"] = not internal.is_temp_disk
    if request.url_vars.get("format"):
        return Response.json(info)
    return Response.html(
        await datasette.render_template("datasette_internal_status.html", {"info": info}, request)
    )


async def audit_log(datasette, request):
    if not await is_admin(datasette, request):
        return json_error(403, "Permission denied: internal-db-admin is required")
    args = request.args
    try:
        limit = int_param(request, "_size", 100, minimum=1, maximum=audit.MAX_PAGE)
        rows = await audit.entries(
            datasette,
            plugin=args.get("plugin") or None,
            action=args.get("action") or None,
            actor_id=args.get("actor") or None,
            since=args.get("since") or None,
            before_id=int_param(request, "before"),
            limit=limit,
        )
    except InvalidInput as error:
        return json_error(400, str(error))
    next_before = rows[-1]["id"] if len(rows) == limit else None
    if request.url_vars.get("format"):
        return Response.json({"ok": True, "entries": rows, "next": next_before})
    return Response.html(
        await datasette.render_template(
            "datasette_internal_audit.html",
            {"entries": rows, "next": next_before, "filters": dict(args)},
            request,
        )
    )


RESET = object()


def setting_change(data):
    """(registered settings, key, new value or RESET) from a POST body; InvalidInput if odd."""
    unknown = set(data) - {"plugin", "key", "value", "reset"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(map(repr, unknown)))}")
    name, key = data.get("plugin"), data.get("key")
    if not isinstance(name, str) or name not in settings_registry:
        raise InvalidInput(f"Unknown plugin {name!r}: 'plugin' must name a registered plugin")
    if not isinstance(key, str):
        raise InvalidInput("'key' must be a string: the name of a setting")
    reset = data.get("reset", False)
    if not isinstance(reset, bool):
        raise InvalidInput("'reset' must be true or false")
    if reset == ("value" in data):
        raise InvalidInput("Give a 'value', or 'reset': true (not both)")
    return settings_registry[name], key, RESET if reset else data["value"]


async def runtime_settings(datasette, request):
    if not await is_admin(datasette, request):
        return json_error(403, "Permission denied: internal-db-admin is required")
    if request.method == "POST":
        try:
            plugin, key, change = setting_change(await read_json_object(request))
            actor_id = (request.actor or {}).get("id")
            if change is RESET:
                await plugin.reset(datasette, key, actor_id=actor_id)
            else:
                await plugin.set(datasette, key, change, actor_id=actor_id)
        except InvalidInput as error:
            return json_error(400, str(error))
        return Response.json({"ok": True, "settings": await plugin.all(datasette)})
    everything = {
        name: await plugin.all(datasette) for name, plugin in sorted(settings_registry.items())
    }
    if request.url_vars.get("format"):
        return Response.json({"ok": True, "settings": everything})
    return Response.html(
        await datasette.render_template(
            "datasette_internal_settings.html", {"settings": everything}, request
        )
    )


async def job_status(datasette, request):
    job = await jobs.get(datasette, request.url_vars["job_id"])
    actor_id = (request.actor or {}).get("id")
    if job is None or not (
        (actor_id and job["actor_id"] == actor_id) or await is_admin(datasette, request)
    ):
        return json_error(404, "Job not found")
    cancel = request.path.endswith("/cancel")
    if cancel != (request.method == "POST"):
        return json_error(405, "POST to /cancel to cancel a job; GET .json to read it")
    if cancel:
        await jobs.request_cancel(datasette, job["id"])
        job = await jobs.get(datasette, job["id"])
    return Response.json({"ok": True, "job": job})


routes = [
    (r"^/-/internal(?P<format>\.json)?\Z", internal_status),
    (r"^/-/internal/audit(?P<format>\.json)?\Z", audit_log),
    (r"^/-/internal/settings(?P<format>\.json)?\Z", runtime_settings),
    (r"^/-/internal/jobs/(?P<job_id>[0-9a-f]{16})(?:\.json|/cancel)\Z", job_status),
]
