"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, and the plugin
configuration that points the comments plugin at it."""

import email
import email.policy
import threading
import time

from aiosmtpd.controller import Controller
from datasette import hookimpl
from datasette_internal_db.testing import free_port

from .conftest import CONFIG

PLUGIN = "datasette-internal-comments"
BASE_URL = "https://data.example.com/"


class Sink:
    """aiosmtpd's handler: every message it accepted, parsed, with its envelope recipients."""

    def __init__(self):
        self.received = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.changed:
            self.received.append((list(envelope.rcpt_tos), message))
            self.changed.notify_all()
        return "250 Message accepted"

    def wait_for(self, count, timeout=30):
        """Block until ``count`` messages arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} message(s) received, expected {count}"
                self.changed.wait(left)
        return [message for _, message in self.received]

    @property
    def messages(self):
        return [message for _, message in self.received]


class SmtpServer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.sink = Sink()
        self.controller = None

    def start(self):
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def email_config(port, **extra):
    block = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "from": "Datasette comments <comments@example.com>",
        "base_url": BASE_URL,
        **extra,
    }
    return {**CONFIG, "plugins": {PLUGIN: {"email": block}}}


class Addresses:
    """The documented hook: every actor but ``nomail`` has ``<id>@example.com``."""

    @staticmethod
    @hookimpl
    def comments_actor_emails(datasette, actor_ids):
        return {i: f"{i}@example.com" for i in actor_ids if i != "nomail"}


def parts(message):
    """``(text, html)`` of a message the plugin sent."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html_part = message.get_body(preferencelist=("html",))
    return text, html_part.get_content() if html_part else None
