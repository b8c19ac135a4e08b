"""Email notifications against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

import html.parser
import re
import urllib.parse

import pytest
from datasette import hookimpl
from datasette.permissions import PermissionSQL
from datasette_internal_comments import mail, notify, outbox, store_email
from datasette_internal_comments.settings import EmailConfig
from datasette_internal_db import get_internal_db

from .conftest import Client
from .email_helpers import BASE_URL, Addresses, SmtpServer, email_config, parts


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def mail_ds(datasette_on, smtp, register):
    register(Addresses)
    return await datasette_on(config=email_config(smtp.port))


def as_(ds, actor_id):
    return Client(ds, actor_id)


async def outbox_rows(ds):
    rows = await get_internal_db(ds).execute(
        f"select * from {store_email.EMAIL_OUTBOX} order by id"  # noqa: S608
    )
    return [dict(row) for row in rows]


async def test_a_mention_sends_one_email_to_the_mentioned_actor(mail_ds, smtp):
    alice = as_(mail_ds, "alice")
    thread = await alice.new_thread(
        "Is this price right, @bob? It looks **low**.", table="items", row="1"
    )
    await outbox.run_once(mail_ds)
    [message] = smtp.sink.wait_for(1)
    assert smtp.sink.received[0][0] == ["bob@example.com"]
    assert message["To"] == "bob@example.com"
    assert message["Subject"] == "alice mentioned you on row apple of data/items"
    thread_url = f"https://data.example.com/-/comments/threads/{thread['id']}"
    text, html = parts(message)
    assert "Is this price right, @bob? It looks **low**." in text
    assert thread_url in text
    assert "<strong>low</strong>" in html and f'href="{thread_url}"' in html
    assert message["Message-ID"].endswith("@data.example.com>")
    assert message["In-Reply-To"] == f"<comments-thread.{thread['id']}@data.example.com>"
    assert message["List-Unsubscribe"].startswith(
        "<https://data.example.com/-/comments/unsubscribe?token="
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Never twice: another pass, and an edit that keeps the mention, send nothing more.
    await alice.post(
        f"/-/comments/api/comments/{thread['comments'][0]['id']}/edit", {"body": "@bob again"}
    )
    await outbox.run_once(mail_ds)
    assert len(smtp.sink.received) == 1
    assert [row["status"] for row in await outbox_rows(mail_ds)] == ["sent"]


async def test_replies_reach_everyone_who_wrote_in_the_thread_but_the_replier(mail_ds, smtp):
    bob, carol, alice = (as_(mail_ds, name) for name in ("bob", "carol", "alice"))
    thread = await bob.new_thread("Started by bob", table="items")
    await carol.reply(thread["id"], "Carol was here")
    await outbox.run_once(mail_ds)
    [to_bob] = smtp.sink.wait_for(1)
    assert to_bob["To"] == "bob@example.com"
    assert to_bob["Subject"] == "carol replied in a thread you wrote in on table data/items"
    await alice.reply(thread["id"], "Alice answers")
    await outbox.run_once(mail_ds)
    received = smtp.sink.wait_for(3)
    assert sorted(message["To"] for message in received[1:]) == [
        "bob@example.com",
        "carol@example.com",
    ]
    assert all("alice replied" in message["Subject"] for message in received[1:])
    # Mail clients put all three in one conversation.
    assert len({message["In-Reply-To"] for message in received}) == 1


async def test_resolve_and_reopen_tell_the_others_in_the_thread(mail_ds, smtp):
    alice, bob, mod = (as_(mail_ds, name) for name in ("alice", "bob", "mod"))
    thread = await alice.new_thread("Alice's question", table="items")
    await bob.reply(thread["id"], "Bob's answer")
    await outbox.run_once(mail_ds)
    smtp.sink.wait_for(1)  # alice hears of bob's reply
    response = await alice.post(f"/-/comments/api/threads/{thread['id']}/resolve")
    assert response.status_code == 200
    await outbox.run_once(mail_ds)
    resolved = smtp.sink.wait_for(2)[1]
    assert resolved["To"] == "bob@example.com"
    assert resolved["Subject"] == "alice resolved a thread you wrote in on table data/items"
    response = await mod.post(f"/-/comments/api/threads/{thread['id']}/reopen")
    assert response.status_code == 200
    await outbox.run_once(mail_ds)
    reopened = smtp.sink.wait_for(4)[2:]
    assert sorted(message["To"] for message in reopened) == ["alice@example.com", "bob@example.com"]
    assert all(message["Subject"].startswith("mod reopened") for message in reopened)


async def test_daily_digest_is_sent_once_a_day_with_everything(mail_ds, smtp, frozen_time):
    bob, alice = as_(mail_ds, "bob"), as_(mail_ds, "alice")
    response = await bob.post("/-/comments/api/email/preference", {"preference": "daily"})
    assert response.json() == {
        "ok": True,
        "preference": "daily",
        "default": "each",
        "email_enabled": True,
    }
    await outbox.run_once(mail_ds)  # the first pass records today
    await alice.new_thread("First @bob", table="items")
    await alice.new_thread("Second @bob", table="items", row="2")
    await outbox.run_once(mail_ds)
    assert await outbox_rows(mail_ds) == []
    frozen_time.advance(86400)
    await outbox.run_once(mail_ds)
    [digest] = smtp.sink.wait_for(1)
    assert digest["Subject"] == "Comments: 2 updates today"
    text, _ = parts(digest)
    assert "First @bob" in text and "Second @bob" in text
    assert "row pear of data/items" in text
    await outbox.run_once(mail_ds)
    frozen_time.advance(86400)
    await outbox.run_once(mail_ds)  # a day with nothing new: no empty digest
    assert len(smtp.sink.received) == 1


async def test_one_click_unsubscribe_needs_no_sign_in_and_changes_one_actor(mail_ds, smtp):
    alice, bob, carol = (as_(mail_ds, name) for name in ("alice", "bob", "carol"))
    await alice.new_thread("Hello @bob and @carol", table="items")
    await outbox.run_once(mail_ds)
    to_bob = next(m for m in smtp.sink.wait_for(2) if m["To"] == "bob@example.com")
    link = to_bob["List-Unsubscribe"].strip("<>")
    assert link.startswith(BASE_URL)
    path = "/" + link[len(BASE_URL) :]
    page = await mail_ds.client.get(path)  # a link scanner, or a person: nothing changes yet
    assert page.status_code == 200 and "Unsubscribe" in page.text
    assert (await bob.get("/-/comments/api/email/preference")).json()["preference"] == "each"
    # RFC 8058: the mail provider POSTs this body to the URI, with no cookie and no Origin.
    response = await mail_ds.client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert (await bob.get("/-/comments/api/email/preference")).json()["preference"] == "off"
    assert (await carol.get("/-/comments/api/email/preference")).json()["preference"] == "each"
    await alice.new_thread("Again @bob and @carol", table="items")
    await outbox.run_once(mail_ds)
    assert [m["To"] for m in smtp.sink.wait_for(3)[2:]] == ["carol@example.com"]
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    bad = await mail_ds.client.post(tampered, headers={"accept": "application/json"})
    assert bad.status_code == 400 and bad.json()["ok"] is False


async def test_no_email_when_the_recipient_may_no_longer_view_the_table(mail_ds, smtp, register):
    revoked = set()

    class Revoke:
        @staticmethod
        @hookimpl
        def permission_resources_sql(datasette, actor, action):
            if action == "view-table" and isinstance(actor, dict) and actor.get("id") in revoked:
                return PermissionSQL(
                    sql="select 'data' as parent, 'items' as child, 0 as allow, 'test' as reason"
                )
            return None

    register(Revoke)
    alice = as_(mail_ds, "alice")
    await alice.new_thread("Secret plans, @bob and @carol", table="items")
    revoked.add("bob")
    await outbox.run_once(mail_ds)
    [message] = smtp.sink.wait_for(1)
    assert message["To"] == "carol@example.com"
    statuses = {row["recipient_id"]: row["status"] for row in await outbox_rows(mail_ds)}
    assert statuses == {"bob": "dropped", "carol": "sent"}


async def test_smtp_down_then_back_delivers_once(datasette_on, register, frozen_time):
    register(Addresses)
    smtp = SmtpServer()  # not started: nothing listens on its port
    ds = await datasette_on(config=email_config(smtp.port))
    await as_(ds, "alice").new_thread("Ping @bob", table="items")
    await outbox.run_once(ds)
    [row] = await outbox_rows(ds)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "ConnectError" in row["last_error"] or "Connect" in row["last_error"]
    smtp.start()
    try:
        await outbox.run_once(ds)  # not due yet
        assert smtp.sink.received == []
        frozen_time.advance(max(outbox.RETRY_DELAYS[0] * 1.2, 1) + 1)
        await outbox.run_once(ds)
        [message] = smtp.sink.wait_for(1)
        assert message["To"] == "bob@example.com"
        frozen_time.advance(outbox.RETRY_DELAYS[-1] * 2)
        await outbox.run_once(ds)
        assert len(smtp.sink.received) == 1
        [row] = await outbox_rows(ds)
        assert (row["status"], row["attempts"]) == ("sent", 2)
    finally:
        smtp.stop()


async def test_a_permanent_refusal_stops_retrying_and_is_logged(mail_ds, smtp, caplog):
    async def refuse(server, session, envelope):
        return "550 No such mailbox"

    smtp.sink.handle_DATA = refuse
    await as_(mail_ds, "alice").new_thread("Ping @bob", table="items")
    await outbox.run_once(mail_ds)
    [row] = await outbox_rows(mail_ds)
    assert row["status"] == "failed" and "550" in row["last_error"]
    assert "refused for good" in caplog.text


async def test_hostile_names_and_bodies_are_safe_in_the_html_part(mail_ds, smtp, register):
    class HostileNames:
        @staticmethod
        @hookimpl
        def actors_from_ids(datasette, actor_ids):
            return {
                i: {"id": i, "name": "<script>alert(1)</script>\r\nBcc: evil@example.net"}
                for i in actor_ids
            }

    register(HostileNames)
    body = (
        "@bob <script>alert(2)</script> <img src=x onerror=alert(3)> "
        "[click](javascript:alert(4)) ![pixel](https://tracker.example/p.png)"
    )
    await as_(mail_ds, "alice").new_thread(body, table="items")
    await outbox.run_once(mail_ds)
    [message] = smtp.sink.wait_for(1)
    assert smtp.sink.received[0][0] == ["bob@example.com"]
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["Subject"].startswith(
        "<script>alert(1)</script> Bcc: evil@example.net mentioned"
    )
    _, html_part = parts(message)
    tags = Tags()
    tags.feed(html_part)
    assert {"script", "img", "iframe"}.isdisjoint(tags.names)
    assert not [name for name, _ in tags.attributes if name.startswith("on")]
    assert all(value.startswith("https://") for name, value in tags.attributes if name == "href")
    assert "tracker.example" not in html_part
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_part


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.names, self.attributes = set(), []

    def handle_starttag(self, tag, attrs):
        self.names.add(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


def test_header_values_with_line_breaks_are_refused():
    config = EmailConfig(smtp_host="127.0.0.1", sender="a@example.com", base_url=BASE_URL)
    with pytest.raises(ValueError):
        mail.compose(
            config,
            to="bob@example.com",
            subject="Hi\r\nBcc: evil@example.net",
            text="x",
            html=None,
            message_id="<1@example.com>",
            thread_ref=None,
            unsubscribe_url=None,
        )
    assert notify.one_line("Hi\r\nBcc:\x00 evil\u2028x\x85y") == "Hi Bcc: evil x y"
    assert notify.clean_address("bob@example.com\r\nBcc: evil@example.net") is None
    assert notify.clean_address("Bob <bob@example.com>") is None
    assert notify.clean_address("bob@example.com") == "bob@example.com"


async def test_nothing_is_queued_or_sent_without_a_mail_server(ds, as_actor):
    await as_actor("alice").new_thread("Hi @bob", table="items")
    assert not outbox.enabled(ds)
    rows = await get_internal_db(ds).execute(f"select count(*) from {store_email.EMAIL_EVENTS}")  # noqa: S608
    assert rows.first()[0] == 0
    listing = await as_actor("root").get("/-/comments/api/email/outbox")
    assert listing.json()["email_enabled"] is False
    # The inbox works as before.
    inbox = await as_actor("bob").get("/-/comments/api/inbox")
    assert inbox.json()["unread_count"] == 1


async def test_actor_email_field_is_used_and_actors_without_one_get_none(mail_ds, smtp, register):
    class WithEmail:
        @staticmethod
        @hookimpl
        def actors_from_ids(datasette, actor_ids):
            return {i: {"id": i, "email": "bobby@example.org"} for i in actor_ids if i == "bob"}

    register(WithEmail)
    await as_(mail_ds, "alice").new_thread("Hi @bob and @nomail", table="items")
    await outbox.run_once(mail_ds)
    [message] = smtp.sink.wait_for(1)
    assert message["To"] == "bobby@example.org"
    statuses = {row["recipient_id"]: row["status"] for row in await outbox_rows(mail_ds)}
    assert statuses == {"bob": "sent", "nomail": "dropped"}


async def test_admin_outbox_page_and_test_email(mail_ds, smtp):
    root = as_(mail_ds, "root")
    response = await root.post("/-/comments/api/email/test", {"to": "ops@example.com"})
    assert response.status_code == 200 and response.json()["ok"] is True
    await outbox.run_once(mail_ds)
    [message] = smtp.sink.wait_for(1)
    assert message["To"] == "ops@example.com"
    page = await root.get("/-/comments/email/outbox")
    assert page.status_code == 200
    assert "ops@example.com" in page.text and "Send test email" in page.text
    listing = (await root.get("/-/comments/api/email/outbox?status=sent")).json()
    assert listing["counts"]["sent"] == 1 and listing["messages"][0]["kind"] == "test"
    assert (await as_(mail_ds, "alice").get("/-/comments/email/outbox")).status_code == 403


async def test_preferences_page_is_linked_from_the_inbox(mail_ds):
    bob = as_(mail_ds, "bob")
    inbox = await bob.get("/-/comments/inbox")
    assert 'href="/-/comments/email"' in inbox.text
    page = await bob.get("/-/comments/email")
    assert page.status_code == 200 and 'value="daily"' in page.text
    form = await bob.datasette.client.post(
        "/-/comments/api/email/preference",
        content=urllib.parse.urlencode({"preference": "off", "next": "/-/comments/email"}),
        headers={"content-type": "application/x-www-form-urlencoded"},
        cookies=bob.cookies,
    )
    assert form.status_code == 303
    assert (await bob.get("/-/comments/api/email/preference")).json()["preference"] == "off"


@pytest.mark.parametrize(
    "actor,method,path,body,status",
    [
        ("bob", "POST", "/-/comments/api/email/preference", {"preference": "sometimes"}, 400),
        ("bob", "POST", "/-/comments/api/email/preference", {}, 400),
        ("bob", "POST", "/-/comments/api/email/preference", {"preference": ["off"]}, 400),
        ("bob", "POST", "/-/comments/api/email/preference", "[1]", 400),
        ("bob", "POST", "/-/comments/api/email/preference", "{not json", 400),
        (None, "GET", "/-/comments/api/email/preference", None, 403),
        (None, "POST", "/-/comments/api/email/preference", {"preference": "off"}, 403),
        ("bob", "DELETE", "/-/comments/api/email/preference", None, 405),
        (None, "POST", "/-/comments/unsubscribe", None, 400),
        (None, "POST", "/-/comments/unsubscribe?token=abc", None, 400),
        (None, "GET", "/-/comments/unsubscribe?token=" + "x" * 5000, None, 400),
        ("root", "GET", "/-/comments/api/email/outbox?status=lost", None, 400),
        ("root", "GET", "/-/comments/api/email/outbox?_size=0", None, 400),
        ("root", "GET", "/-/comments/api/email/outbox?_next=abc", None, 400),
        ("root", "GET", "/-/comments/api/email/outbox?_next=1,2", None, 400),
        ("bob", "GET", "/-/comments/api/email/outbox", None, 403),
        ("root", "POST", "/-/comments/api/email/test", {"to": "not an address"}, 400),
        ("root", "POST", "/-/comments/api/email/test", {"to": "a@example.com\r\nBcc: b@x.io"}, 400),
        ("root", "POST", "/-/comments/api/email/test", {"to": 5}, 400),
        ("root", "POST", "/-/comments/api/email/test", {}, 400),
        ("bob", "POST", "/-/comments/api/email/test", {"to": "a@example.com"}, 403),
        ("root", "GET", "/-/comments/api/email/test", None, 405),
    ],
)
async def test_bad_input_to_email_routes_is_a_clear_4xx(mail_ds, actor, method, path, body, status):
    client = as_(mail_ds, actor)
    kwargs = {"headers": {"accept": "application/json"}, "cookies": client.cookies}
    if isinstance(body, str):
        kwargs["content"] = body
        kwargs["headers"]["content-type"] = "application/json"
    elif body is not None:
        kwargs["json"] = body
    response = await mail_ds.client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["ok"] is False and payload["errors"]


async def test_unsubscribing_stops_messages_already_queued(mail_ds, smtp, frozen_time):
    await as_(mail_ds, "alice").new_thread("Ping @bob", table="items")
    smtp.stop()  # the first attempt fails: the message waits for a retry
    await outbox.run_once(mail_ds)
    await as_(mail_ds, "bob").post("/-/comments/api/email/preference", {"preference": "off"})
    smtp.start()
    frozen_time.advance(outbox.RETRY_DELAYS[0] * 2)
    await outbox.run_once(mail_ds)
    [row] = await outbox_rows(mail_ds)
    assert (row["status"], row["last_error"]) == ("dropped", "the recipient turned email off")
    assert smtp.sink.received == []


@pytest.mark.parametrize(
    "block,message",
    [
        ({"smtp_host": "127.0.0.1", "security": "tls"}, "'email.security' must be one of"),
        ({"smtp_host": "127.0.0.1", "from": "x@example.com"}, "'email.base_url'"),
        ({"smtp_port": "25x"}, "'email.smtp_port' must be an integer"),
        ({"default": "weekly"}, "'email.default' must be one of"),
        ({"smtp_hots": "x"}, "unknown key(s) in 'email': smtp_hots"),
    ],
)
async def test_a_wrong_email_configuration_stops_the_start(tmp_path, block, message):
    from datasette.utils import StartupError
    from datasette_internal_db.testing import make_datasette, only_plugins

    config = {"plugins": {"datasette-internal-comments": {"email": block}}}
    # Only this plugin: another's startup coroutine would be left unawaited by the error.
    with only_plugins("datasette-internal-comments"), pytest.raises(StartupError) as raised:
        await make_datasette(tmp_path, internal=None, config=config)
    assert "plugins.datasette-internal-comments.email" in str(raised.value)
    assert message in str(raised.value)


def test_ports_and_hours_from_env_strings_are_numbers():
    from datasette_internal_comments.settings import parse_email_config

    parsed = parse_email_config({"smtp_port": "2525", "digest_hour": "7"})
    assert (parsed.smtp_port, parsed.digest_hour, parsed.enabled) == (2525, 7, False)


async def test_links_carry_datasettes_base_url_once(datasette_on):
    config = email_config(2525, base_url="https://data.example.com/prefix/")
    ds = await datasette_on(config=config, settings={"base_url": "/prefix/"})
    assert notify.absolute(ds, "/-/comments/email") == (
        "https://data.example.com/prefix/-/comments/email"
    )


async def test_a_reply_that_also_mentions_you_is_one_email_and_your_own_mention_none(mail_ds, smtp):
    bob, carol = as_(mail_ds, "bob"), as_(mail_ds, "carol")
    thread = await bob.new_thread("A note to self, @bob", table="items")
    await carol.reply(thread["id"], "@bob have a look (signed, @carol)")
    await outbox.run_once(mail_ds)
    [message] = smtp.sink.wait_for(1)
    await outbox.run_once(mail_ds)
    assert len(smtp.sink.received) == 1
    assert message["To"] == "bob@example.com"
    assert message["Subject"].startswith("carol ")  # about carol's reply, not bob's own note
    assert [row["recipient_id"] for row in await outbox_rows(mail_ds)] == ["bob"]


async def test_an_email_carries_the_comments_first_500_characters(mail_ds, smtp):
    # README, What an email holds: "the comment's first 500 characters". Digits and commas:
    # no Markdown, no spaces for the cut to trim, so each part must hold exactly that text.
    alice = as_(mail_ds, "alice")
    long_body = "@bob " + "".join(f"{n:03d}," for n in range(200))
    whole_body = long_body[:500]
    await alice.new_thread(long_body, table="items")
    await alice.new_thread(whole_body, table="notes")
    await outbox.run_once(mail_ds)
    by_subject = {}
    for message in smtp.sink.wait_for(2):
        text, html_part = parts(message)
        # The HTML's words without its tags (the mention is a <span>).
        by_subject[message["Subject"]] = text, re.sub(r"<[^>]*>", "", html_part)
    text, html_words = by_subject["alice mentioned you on table data/items"]
    [quoted] = [line for line in text.splitlines() if line.startswith("> ")]
    assert quoted.startswith("> " + long_body[:500])
    assert long_body[:500] in html_words
    assert long_body[:501] not in text + html_words
    text, html_words = by_subject["alice mentioned you on table data/notes"]
    assert "> " + whole_body in text.splitlines() and whole_body in html_words


async def test_a_comment_deleted_before_its_email_goes_out_is_not_sent(mail_ds, smtp):
    alice = as_(mail_ds, "alice")
    gone = await alice.new_thread("Regrettable remark, @bob", table="items")
    await alice.new_thread("Kept remark, @bob", table="notes")
    deleted = await alice.post(f"/-/comments/api/comments/{gone['comments'][0]['id']}/delete")
    assert deleted.status_code == 200
    await outbox.run_once(mail_ds)
    [message] = smtp.sink.wait_for(1)
    await outbox.run_once(mail_ds)
    assert len(smtp.sink.received) == 1
    text, html_part = parts(message)
    assert "Kept remark" in text and "Regrettable" not in text + html_part
    rows = await outbox_rows(mail_ds)
    assert sorted((row["status"], row["last_error"]) for row in rows) == [
        ("dropped", "nothing the recipient may still read"),
        ("sent", None),
    ]
