"""Who gets which email, and what it says.

Events are queued with the comment or resolution they are about (store_email.py): a mention,
a reply in a thread the recipient wrote in, a resolve or reopen of such a thread, never the
recipient's own action. Here each is routed by the recipient's preference, and just before a
message is sent its items are checked again: the recipient must still be allowed to read the
comments of the target (``comments-view`` with ``view-table``/``view-database``), and the
comment must not have been deleted. What fails is dropped without a word.
"""

import email.errors
import email.headerregistry
from urllib.parse import urlencode, urlsplit

from datasette.utils import await_me_maybe
from datasette_internal_db.text import CONTROL_CHARACTERS
from itsdangerous import BadSignature

from . import access, store_email
from .access import VIEW
from .actors import actors_for, display, plugin_manager
from .rendering import render
from .settings import email_config

UNSUBSCRIBE_NAMESPACE = "datasette-internal-comments-unsubscribe"
EXCERPT_CHARS = 500
MAX_SUBJECT_CHARS = 150
HEADLINES = {
    "mention": "{actor} mentioned you",
    "reply": "{actor} replied in a thread you wrote in",
    "resolved": "{actor} resolved a thread you wrote in",
    "reopened": "{actor} reopened a thread you wrote in",
}


def domain(datasette):
    """The host of the public base URL: the right-hand side of every Message-ID."""
    host = urlsplit(email_config(datasette).base_url).hostname or "localhost"
    return host.encode("idna").decode("ascii")


# ---------------------------------------------------------------------------- routing


async def route_new_events(datasette, now_ts, now):
    """Send each new event on its way by its recipient's preference; returns how many."""
    events = await store_email.new_events(datasette)
    if not events:
        return 0
    chosen = await store_email.preferences(datasette, [e["recipient_id"] for e in events])
    default = email_config(datasette).default_preference
    decisions = {e["id"]: chosen.get(e["recipient_id"], default) for e in events}
    await store_email.route_events(datasette, decisions, now_ts, now, domain(datasette))
    return len(events)


async def turned_off(datasette, actor_ids):
    """Those of ``actor_ids`` whose preference is now "off" (they unsubscribed after the
    event was routed: nothing more reaches them)."""
    chosen = await store_email.preferences(datasette, actor_ids)
    default = email_config(datasette).default_preference
    return {actor_id for actor_id in actor_ids if chosen.get(actor_id, default) == "off"}


# ---------------------------------------------------------------------------- addresses


def clean_address(value):
    """``value`` as a bare address (``user@example.com``), or None if it is not one."""
    if not isinstance(value, str) or len(value) > 254 or CONTROL_CHARACTERS.search(value):
        return None
    try:
        address = email.headerregistry.Address(addr_spec=value.strip())
    except (ValueError, IndexError, email.errors.HeaderParseError):
        return None
    if not address.username or "." not in address.domain:
        return None
    return address.addr_spec


async def addresses_for(datasette, actors):
    """``{actor_id: address}``: ``actor["email"]``, else what a ``comments_actor_emails`` hook
    says. Asked at send time, so a changed address is used from the next message."""
    found = {}
    for actor_id, actor in actors.items():
        address = clean_address(actor.get("email")) if isinstance(actor, dict) else None
        if address:
            found[actor_id] = address
    missing = [actor_id for actor_id in actors if actor_id not in found]
    if missing:
        hook = plugin_manager().hook.comments_actor_emails
        for result in hook(datasette=datasette, actor_ids=missing):
            given = await await_me_maybe(result)
            if not isinstance(given, dict):
                continue
            for actor_id in missing:
                address = clean_address(given.get(actor_id))
                if address and actor_id not in found:
                    found[actor_id] = address
    return found


# ---------------------------------------------------------------------------- unsubscribe


def unsubscribe_token(datasette, actor_id):
    return datasette.sign({"a": actor_id}, UNSUBSCRIBE_NAMESPACE)


def actor_for_token(datasette, token):
    """The actor id a token was made for, or None for anything not signed by this Datasette."""
    if not isinstance(token, str) or not token or len(token) > 2000:
        return None
    try:
        value = datasette.unsign(token, UNSUBSCRIBE_NAMESPACE)
    except BadSignature:
        return None
    actor_id = value.get("a") if isinstance(value, dict) else None
    return actor_id if isinstance(actor_id, str) else None


def absolute(datasette, path):
    """The public URL of ``path``: the configured origin plus Datasette's own path (which
    carries Datasette's ``base_url`` setting, so the origin's path is not added twice)."""
    origin = urlsplit(email_config(datasette).base_url)
    return f"{origin.scheme}://{origin.netloc}{datasette.urls.path(path)}"


def links(datasette, actor_id):
    query = urlencode({"token": unsubscribe_token(datasette, actor_id)})
    return {
        "unsubscribe": absolute(datasette, "/-/comments/unsubscribe") + "?" + query,
        "preferences": absolute(datasette, "/-/comments/email"),
    }


# ---------------------------------------------------------------------------- content


def one_line(text):
    """User text fit for a header: control characters (CR and LF too) become spaces."""
    return " ".join(CONTROL_CHARACTERS.sub(" ", str(text)).split())


def target_label(item):
    where = "/".join(part for part in (item["database_name"], item["table_name"]) if part)
    if item["row_key"]:
        label = item["row_label"] or item["row_key"]
        column = f", column {item['column_name']}" if item["column_name"] else ""
        return f"row {label}{column} of {where}"
    if item["column_name"]:
        return f"column {item['column_name']} of {where}"
    return f"table {where}" if item["table_name"] else f"database {where}"


async def visible_items(datasette, actor, items, verdicts):
    """The items ``actor`` may read now: target still viewable, comment not deleted.

    ``verdicts`` keeps the answers for one sending pass (asked afresh in the next).
    """
    kept = []
    for item in items:
        if item["comment_id"] is not None and item["deleted_at"]:
            continue
        key = (actor.get("id"), item["database_name"], item["table_name"])
        if key not in verdicts:
            allowed = await access.verdicts(datasette, actor, *key[1:], [VIEW])
            verdicts[key] = allowed[VIEW]
        if verdicts[key]:
            kept.append(item)
    return kept


async def present(datasette, items):
    """Each item with its headline, target label, excerpt (text and sanitized HTML) and URL."""
    names = await actors_for(datasette, [item["actor_id"] for item in items])
    shown = []
    for item in items:
        actor = one_line(display(names, item["actor_id"])["name"])
        body = item["body"] or ""
        excerpt = body if len(body) <= EXCERPT_CHARS else body[:EXCERPT_CHARS].rstrip() + "…"
        shown.append(
            {
                **item,
                "headline": HEADLINES[item["reason"]].format(actor=actor),
                "target": one_line(target_label(item)),
                "excerpt": excerpt,
                "excerpt_html": render(excerpt) if excerpt else "",
                "url": absolute(datasette, f"/-/comments/threads/{item['thread_id']}"),
            }
        )
    return shown


def subject_for(kind, shown):
    if kind == "daily":
        count = len(shown)
        subject = f"Comments: {count} update{'s' if count != 1 else ''} today"
    else:
        subject = f"{shown[0]['headline']} on {shown[0]['target']}"
    subject = one_line(subject)
    if len(subject) > MAX_SUBJECT_CHARS:
        subject = subject[: MAX_SUBJECT_CHARS - 1] + "…"
    return subject


def text_body(shown, urls):
    parts = []
    for item in shown:
        parts.append(f"{item['headline']} on {item['target']}:")
        if item["excerpt"]:
            parts.append("\n".join("> " + line for line in item["excerpt"].splitlines()))
        parts.append(f"View the thread: {item['url']}\n")
    parts.append(f"Email preferences: {urls['preferences']}\nUnsubscribe: {urls['unsubscribe']}")
    return "\n".join(parts) + "\n"


async def html_body(datasette, shown, urls, subject):
    environment = datasette.get_jinja_environment(None)
    template = environment.get_template("datasette_internal_comments_email_message.html")
    return await template.render_async({"items": shown, "urls": urls, "subject": subject})
