"""A webhook receiver for the benchmarks, run as its own process: ``python receiver.py PORT``.

``POST /hook`` answers 204 and records the ``webhook-id`` and arrival time (no signature check:
the tests verify signatures; here the receiver must not be the bottleneck).
``GET /stats`` gives count, first and last arrival; ``GET /wait?count=N`` waits until N
deliveries arrived and returns the arrival time of the N-th; ``POST /reset`` forgets everything.
"""

import asyncio
import sys
import time

from aiohttp import web

arrivals = []
ids = set()
changed = asyncio.Condition()


async def hook(request):
    await request.read()
    async with changed:
        arrivals.append(time.time())
        ids.add(request.headers.get("webhook-id"))
        changed.notify_all()
    return web.Response(status=204)


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
    count = int(request.query["count"])
    timeout = float(request.query.get("timeout", "60"))
    async with changed:
        try:
            await asyncio.wait_for(changed.wait_for(lambda: len(arrivals) >= count), timeout)
        except asyncio.TimeoutError:
            return web.json_response({"count": len(arrivals)}, status=504)
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
