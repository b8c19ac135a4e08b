"""Long-running work with progress that can be polled, cancelled, and survives a restart."""

import asyncio
import json
import secrets
import traceback

from . import clock
from .database import get_internal_db, where_clause

MAX_ERRORS_KEPT = 50
PROGRESS_WRITE_INTERVAL = 0.5
FINISHED = ("done", "failed", "cancelled", "interrupted")

_running = {}


class Job:
    """Handed to the work function: report progress, record errors, notice a cancel."""

    def __init__(self, datasette, job_id, total):
        self.datasette = datasette
        self.id = job_id
        self.done = 0
        self.total = total
        self.errors = []
        self.error_count = 0
        self.result = None
        self._written_at = 0.0

    async def advance(self, count=1):
        self.done += count
        if clock.now() - self._written_at >= PROGRESS_WRITE_INTERVAL:
            await self.save()

    async def set_total(self, total):
        self.total = total
        await self.save()

    async def error(self, message):
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(str(message)[:500])
        await self.save()

    async def cancel_requested(self):
        row = (
            await get_internal_db(self.datasette).execute(
                "select cancel_requested from _datasette_internal_jobs where id = ?", [self.id]
            )
        ).first()
        return bool(row and row["cancel_requested"])

    async def save(self, status=None):
        self._written_at = clock.now()
        finished_at = clock.iso() if status in FINISHED else None
        await get_internal_db(self.datasette).execute_write(
            "update _datasette_internal_jobs set done = ?, total = ?, errors = ?,"
            " error_count = ?, updated_at = ?, status = coalesce(?, status),"
            " finished_at = coalesce(?, finished_at), result = ? where id = ?",
            [
                self.done,
                self.total,
                json.dumps(self.errors),
                self.error_count,
                clock.iso(),
                status,
                finished_at,
                None if self.result is None else json.dumps(self.result),
                self.id,
            ],
        )


async def start(datasette, plugin, kind, work, *, actor_id=None, total=None):
    """Record a job and run ``await work(job)`` in the background; returns the job id at once.

    ``work`` should check ``await job.cancel_requested()`` between units and return early.
    What it returns (JSON-serializable, or None) is kept as the job's ``result``, shown on the
    job's page and in its JSON.
    """
    job_id = secrets.token_hex(8)
    created_at = clock.iso()
    await get_internal_db(datasette).execute_write(
        "insert into _datasette_internal_jobs"
        " (id, plugin, kind, status, total, actor_id, created_at, updated_at)"
        " values (?, ?, ?, 'running', ?, ?, ?, ?)",
        [job_id, plugin, kind, total, actor_id, created_at, created_at],
    )
    job = Job(datasette, job_id, total)
    task = asyncio.create_task(_run(job, work))
    _running[job_id] = task
    task.add_done_callback(lambda _: _running.pop(job_id, None))
    return job_id


async def _run(job, work):
    try:
        job.result = await work(job)
    except Exception as error:
        job.errors.append("".join(traceback.format_exception_only(error)).strip()[:500])
        job.error_count += 1
        await job.save("failed")
        return
    await job.save("cancelled" if await job.cancel_requested() else "done")


async def get(datasette, job_id):
    row = (
        await get_internal_db(datasette).execute(
            "select * from _datasette_internal_jobs where id = ?", [job_id]
        )
    ).first()
    return None if row is None else _job(row)


def _job(row):
    job = dict(row)
    job["errors"] = json.loads(job["errors"] or "[]")
    job["result"] = None if job["result"] is None else json.loads(job["result"])
    job["cancel_requested"] = bool(job["cancel_requested"])
    job["finished"] = job["status"] in FINISHED
    return job


async def listing(datasette, *, actor_id=None, limit=50, after=None):
    """Jobs newest first: every actor's, or only ``actor_id``'s. ``after`` is the
    ``(created_at, id)`` of the last job of the previous page."""
    created_at, job_id = after or (None, None)
    where, params = where_clause(
        ("actor_id = :actor_id", {"actor_id": actor_id}),
        ("(created_at, id) < (:created_at, :id)", {"created_at": created_at, "id": job_id}),
    )
    rows = await get_internal_db(datasette).execute(
        f"select * from _datasette_internal_jobs {where}"
        " order by created_at desc, id desc limit :limit",
        dict(params, limit=limit),
    )
    return [_job(row) for row in rows]


async def request_cancel(datasette, job_id):
    await get_internal_db(datasette).execute_write(
        "update _datasette_internal_jobs set cancel_requested = 1, updated_at = ?"
        " where id = ? and status = 'running'",
        [clock.iso(), job_id],
    )


async def mark_interrupted(datasette):
    """At startup: jobs still 'running' belonged to a process that is gone."""
    result = await get_internal_db(datasette).execute_write(
        "update _datasette_internal_jobs set status = 'interrupted', finished_at = ?"
        " where status = 'running'",
        [clock.iso()],
    )
    return result.rowcount


async def wait(job_id, timeout=30):
    """For tests and CLIs: wait until the in-process task of ``job_id`` ends."""
    task = _running.get(job_id)
    if task is not None:
        await asyncio.wait_for(asyncio.shield(task), timeout)
