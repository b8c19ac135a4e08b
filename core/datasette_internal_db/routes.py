"""/-/internal pages: status, audit log, runtime settings, job progress; the menu link."""

from datasette.utils.asgi import Forbidden, NotFound, Response

from . import audit, jobs, status
from .answers import recent_answers
from .database import get_internal_db
from .errors import InvalidInput
from .lifecycle import migration_sets
from .routing import next_token, page_after, page_links, page_size, route
from .settings import registry as settings_registry
from .web import int_param, parse_int, read_json_object

ADMIN = "internal-db-admin"


async def admin_menu_links(datasette, actor):
    # Drawn on every HTML page, so the answer comes from core's short-lived memory of answers;
    # it only shows the way: the pages themselves check on every request.
    if await recent_answers.allowed(datasette, ADMIN, actor):
        return [{"href": datasette.urls.path("/-/internal"), "label": "Internal database"}]
    return []


async def is_admin(datasette, request):
    return await datasette.allowed(action=ADMIN, actor=request.actor)


def crumbs(datasette, *trail):
    """Breadcrumbs under "Internal database" for the base template."""
    if not trail:
        return [("Internal database", None)]
    return [("Internal database", datasette.urls.path("/-/internal")), *trail]


async def page(datasette, request, template, context):
    return Response.html(await datasette.render_template(template, context, request))


@route(action=ADMIN)
async def internal_status(datasette, request):
    internal = get_internal_db(datasette)
    sets = migration_sets(datasette)
    info = await internal.execute_fn(lambda conn: status.collect(conn, sets))
    info["path"] = internal.path if not internal.is_temp_disk else None
    info["persistent"] = not internal.is_temp_disk
    if request.url_vars.get("format"):
        return Response.json(info)
    context = {"info": info, "breadcrumbs": crumbs(datasette)}
    return await page(datasette, request, "datasette_internal_status.html", context)


@route(action=ADMIN)
async def audit_log(datasette, request):
    args = request.args
    limit = page_size(request, 100, maximum=audit.MAX_PAGE)
    after = page_after(request, 1)
    rows = await audit.entries(
        datasette,
        plugin=args.get("plugin") or None,
        action=args.get("action") or None,
        actor_id=args.get("actor") or None,
        since=args.get("since") or None,
        before_id=int_param(request, "before") if after is None else parse_int(after[0], "_next"),
        limit=limit,
    )
    token = next_token(rows[-1]["id"]) if len(rows) == limit else None
    links = page_links(request, token)
    if request.url_vars.get("format"):
        return Response.json({"ok": True, "entries": rows, **links})
    context = {
        "entries": rows,
        "filters": dict(args),
        "breadcrumbs": crumbs(datasette, ("Audit log", None)),
    }
    return await page(datasette, request, "datasette_internal_audit.html", {**context, **links})


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


@route(methods=("GET", "POST"), action=ADMIN)
async def runtime_settings(datasette, request):
    if request.method == "POST":
        plugin, key, change = setting_change(await read_json_object(request))
        actor_id = (request.actor or {}).get("id")
        if change is RESET:
            await plugin.reset(datasette, key, actor_id=actor_id)
        else:
            await plugin.set(datasette, key, change, actor_id=actor_id)
        return Response.json({"ok": True, "settings": await plugin.all(datasette)})
    everything = {
        name: await plugin.all(datasette)
        for name, plugin in sorted(settings_registry.items())
        if plugin.settings
    }
    if request.url_vars.get("format"):
        return Response.json({"ok": True, "settings": everything})
    context = {"settings": everything, "breadcrumbs": crumbs(datasette, ("Runtime settings", None))}
    return await page(datasette, request, "datasette_internal_settings.html", context)


async def visible_job(datasette, request):
    """The job of the URL if this actor started it or is an admin; else NotFound."""
    job = await jobs.get(datasette, request.url_vars["job_id"])
    actor_id = (request.actor or {}).get("id")
    if job is None or not (
        (actor_id and job["actor_id"] == actor_id) or await is_admin(datasette, request)
    ):
        raise NotFound("Job not found")
    return job


@route()
async def job_list(datasette, request):
    actor_id = (request.actor or {}).get("id")
    admin = await is_admin(datasette, request)
    if not admin and actor_id is None:
        raise Forbidden("Sign in to see your jobs")
    limit = page_size(request)
    rows = await jobs.listing(
        datasette,
        actor_id=None if admin else actor_id,
        limit=limit,
        after=page_after(request, 2),
    )
    token = next_token(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    links = page_links(request, token)
    if request.url_vars.get("format"):
        return Response.json({"ok": True, "jobs": rows, **links})
    trail = crumbs(datasette, ("Jobs", None)) if admin else [("Jobs", None)]
    context = {"jobs": rows, "everyone": admin, "breadcrumbs": trail}
    return await page(datasette, request, "datasette_internal_jobs.html", {**context, **links})


@route()
async def job_page(datasette, request):
    job = await visible_job(datasette, request)
    if request.url_vars.get("format"):
        return Response.json({"ok": True, "job": job})
    jobs_url = datasette.urls.path("/-/internal/jobs")
    context = {"job": job, "breadcrumbs": [("Jobs", jobs_url), (job["kind"], None)]}
    return await page(datasette, request, "datasette_internal_job_page.html", context)


@route(methods=("POST",))
async def job_cancel(datasette, request):
    job = await visible_job(datasette, request)
    await jobs.request_cancel(datasette, job["id"])
    return Response.json({"ok": True, "job": await jobs.get(datasette, job["id"])})


JOB = r"/-/internal/jobs/(?P<job_id>[0-9a-f]{16})"

routes = [
    (r"^/-/internal(?P<format>\.json)?\Z", internal_status),
    (r"^/-/internal/audit(?P<format>\.json)?\Z", audit_log),
    (r"^/-/internal/settings(?P<format>\.json)?\Z", runtime_settings),
    (r"^/-/internal/jobs(?P<format>\.json)?\Z", job_list),
    (rf"^{JOB}(?P<format>\.json)?\Z", job_page),
    (rf"^{JOB}/cancel\Z", job_cancel),
]
