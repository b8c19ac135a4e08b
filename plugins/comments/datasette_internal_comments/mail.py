"""Building messages and handing them to the SMTP server (aiosmtplib).

Headers are set through ``email.message.EmailMessage`` with the ``SMTP`` policy, which refuses
any header value holding CR or LF (a ``ValueError``): user text can never add a header, even if
it got past ``notify.one_line``.
"""

import email.policy
import email.utils
import logging
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

log = logging.getLogger("datasette_internal_comments")

POLICY = email.policy.SMTP.clone(raise_on_defect=True)


@dataclass
class Outcome:
    """What became of one message: ``sent``, ``retry`` (a temporary failure) or ``failed``
    (the server refused it for good, a 5xx reply)."""

    status: str
    error: str = ""


def compose(config, *, to, subject, text, html, message_id, thread_ref, unsubscribe_url):
    message = EmailMessage(policy=POLICY)
    message["From"] = config.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = message_id
    if thread_ref:
        # Every message about a thread points at one root id (never sent itself), so mail
        # clients show them as one conversation.
        message["In-Reply-To"] = thread_ref
        message["References"] = thread_ref
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def smtp_client(config):
    return aiosmtplib.SMTP(
        hostname=config.smtp_host,
        port=config.smtp_port,
        use_tls=config.security == "ssl",
        start_tls=config.security == "starttls",
        timeout=config.timeout,
    )


def describe(error):
    return f"{type(error).__name__}: {error}"[:500]


def permanent(error):
    """A 5xx answer to this message (its sender, recipient or content) will not change."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= refused.code < 600 for refused in error.recipients)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return 500 <= error.code < 600
    return False


async def deliver(config, messages, before_each):
    """Send ``messages`` over one connection; an ``Outcome`` for each, in order.
    ``await before_each()`` runs before each message (the sender yields to requests there).

    A failure to connect, start TLS or log in is temporary for every message (the server or our
    configuration may be fixed); a 5xx reply to one message is permanent for that message.
    """
    outcomes = []
    client = smtp_client(config)
    try:
        await client.connect()
        if config.username:
            await client.login(config.username, config.password)
    except (aiosmtplib.SMTPException, OSError) as error:
        log.warning("Comments email: cannot reach %s: %s", config.smtp_host, describe(error))
        return [Outcome("retry", describe(error)) for _ in messages]
    try:
        for message in messages:
            if not client.is_connected:
                outcomes.append(Outcome("retry", "connection closed"))
                continue
            await before_each()
            try:
                await client.send_message(message)
            except (aiosmtplib.SMTPException, OSError) as error:
                if permanent(error):
                    log.error(
                        "Comments email %s refused for good: %s",
                        message["Message-ID"],
                        describe(error),
                    )
                    outcomes.append(Outcome("failed", describe(error)))
                else:
                    outcomes.append(Outcome("retry", describe(error)))
            else:
                outcomes.append(Outcome("sent"))
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
    return outcomes
