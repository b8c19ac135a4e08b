"""A webhook receiver for the benchmarks, run as its own process: ``python receiver.py PORT``.

``POST /hook`` answers 204 and records the ``webhook-id`` and arrival time (no signature check:
the tests verify signatures; here the receiver must not be the bottleneck).
``GET /stats`` gives count, first and last arrival; ``GET /wait?count=N`` waits until N
deliveries arrived and returns the arrival time of the N-th; ``POST /reset`` forgets everything.

A waiter costs nothing per arrival until its count is reached: a backlog's sender is timed while
the driver waits, the bare client's before it does, and the receiver must do the same work per
delivery for both.
"""

import asyncio
import sys
import time

from aiohttp import web

arrivals = []
ids = set()
waiters = []  # [count, future]: resolved when that many deliveries arrived
next_target = None  # the smallest count waited for


async def hook(request):
    await request.read()
    arrivals.append(time.time())
    ids.add(request.headers.get("webhook-id"))
    if next_target is not None and len(arrivals) >= next_target:
        wake_waiters()
    return web.Response(status=204)


def wake_waiters():
    global next_target
    for waiter in [w for w in waiters if len(arrivals) >= w[0]]:
        waiters.remove(waiter)
        if not waiter[1].done():
            waiter[1].set_result(None)
    next_target = min((count for count, _ in waiters), default=None)


async def stats(request):
    return web.json_response(
        {
            "count": len(arrivals),
            "distinct_ids": len(ids),
            "first": arrivals[0] if arrivals else None,
            "last": arrivals[-1] if arrivals else None,
        }
    )


async def wait(request):
    global next_target
    count = int(request.query["count"])
    timeout = float(request.query.get("timeout", "60"))
    if len(arrivals) < count:
        waiter = [count, asyncio.get_running_loop().create_future()]
        waiters.append(waiter)
        next_target = min(count, next_target or count)
        try:
            await asyncio.wait_for(waiter[1], timeout)
        except asyncio.TimeoutError:
            return web.json_response({"count": len(arrivals)}, status=504)
        finally:
            if waiter in waiters:
                waiters.remove(waiter)
                next_target = min((c for c, _ in waiters), default=None)
    return web.json_response({"count": len(arrivals), "at": arrivals[count - 1]})


async def reset(request):
    arrivals.clear()
    ids.clear()
    return web.json_response({"ok": True})


def main():
    app = web.Application()
    app.add_routes(
        [
            web.post("/hook", hook),
            web.get("/stats", stats),
            web.get("/wait", wait),
            web.post("/reset", reset),
        ]
    )
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
