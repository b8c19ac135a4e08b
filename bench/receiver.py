"""A webhook receiver for the benchmarks, run as its own process: ``python receiver.py PORT``.

``POST /hook`` answers 204 and records the ``webhook-id`` and arrival time (no signature check:
the tests verify signatures; here the receiver must not be the bottleneck).
``GET /stats`` gives count, first and last arrival; ``GET /wait?count=N`` waits until N
deliveries arrived and returns the arrival time of the N-th; ``POST /reset`` forgets everything.

HTTP/1.1 is parsed by hand on an ``asyncio.Protocol`` (requests with a ``Content-Length`` body,
keep-alive): on the benchmark's two cores this process shares the CPU with the sender it
measures, and a full HTTP server cost about 0.35 ms of CPU per delivery, as much as a sender's
own request. A waiter costs nothing per arrival until its count is reached: a backlog's sender
is timed while the driver waits, the bare client's before it does, and the receiver does the
same work per delivery for both.
"""

import asyncio
import json
import sys
import time
from urllib.parse import parse_qs, urlsplit

arrivals = []
ids = set()
waiters = []  # [count, future]: resolved when that many deliveries arrived
next_target = None  # the smallest count waited for

NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


def response(status, payload):
    body = json.dumps(payload).encode()
    reason = {200: "OK", 404: "Not Found", 501: "Not Implemented", 504: "Gateway Timeout"}
    return (
        f"HTTP/1.1 {status} {reason[status]}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


def record(headers):
    arrivals.append(time.time())
    ids.add(headers.get(b"webhook-id"))
    if next_target is not None and len(arrivals) >= next_target:
        wake_waiters()


def wake_waiters():
    global next_target
    for waiter in [w for w in waiters if len(arrivals) >= w[0]]:
        waiters.remove(waiter)
        if not waiter[1].done():
            waiter[1].set_result(None)
    next_target = min((count for count, _ in waiters), default=None)


def stats():
    return {
        "count": len(arrivals),
        "distinct_ids": len(ids),
        "first": arrivals[0] if arrivals else None,
        "last": arrivals[-1] if arrivals else None,
    }


async def wait(query):
    global next_target
    count = int(query["count"][0])
    timeout = float(query.get("timeout", ["60"])[0])
    if len(arrivals) < count:
        waiter = [count, asyncio.get_running_loop().create_future()]
        waiters.append(waiter)
        next_target = min(count, next_target or count)
        try:
            await asyncio.wait_for(waiter[1], timeout)
        except asyncio.TimeoutError:
            return response(504, {"count": len(arrivals)})
        finally:
            if waiter in waiters:
                waiters.remove(waiter)
                next_target = min((c for c, _ in waiters), default=None)
    return response(200, {"count": len(arrivals), "at": arrivals[count - 1]})


class Connection(asyncio.Protocol):
    """One keep-alive connection; its requests are answered in order."""

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = bytearray()
        self.answering = None  # the task of a /wait this connection's next answers queue behind

    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            lines = bytes(self.buffer[:end]).split(b"\r\n")
            method, target, _ = lines[0].split(b" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            if b"chunked" in headers.get(b"transfer-encoding", b""):
                self.transport.write(response(501, {"error": "chunked bodies are not read"}))
                self.transport.close()
                return
            length = int(headers.get(b"content-length", 0))
            if len(self.buffer) < end + 4 + length:
                return  # the body is still on its way
            del self.buffer[: end + 4 + length]
            self.answer(method, target.decode(), headers)

    def answer(self, method, target, headers):
        url = urlsplit(target)
        if method == b"POST" and url.path == "/hook":
            record(headers)
            self.send(NO_CONTENT)
        elif method == b"GET" and url.path == "/stats":
            self.send(response(200, stats()))
        elif method == b"POST" and url.path == "/reset":
            arrivals.clear()
            ids.clear()
            self.send(response(200, {"ok": True}))
        elif method == b"GET" and url.path == "/wait":
            self.send(wait(parse_qs(url.query)))
        else:
            self.send(response(404, {"error": "not found"}))

    def send(self, answer):
        """Write ``answer`` (bytes, or a coroutine giving them) after any answer still pending."""
        if self.answering is None and isinstance(answer, bytes):
            self.transport.write(answer)
            return
        previous = self.answering

        async def in_order():
            if previous is not None:
                await previous
            self.transport.write(answer if isinstance(answer, bytes) else await answer)

        self.answering = asyncio.ensure_future(in_order())
        self.answering.add_done_callback(self.answered)

    def answered(self, task):
        if self.answering is task:
            self.answering = None


async def main(port):
    server = await asyncio.get_running_loop().create_server(Connection, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
