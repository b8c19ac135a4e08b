"""The plugin's URLs and the handler of each: the route table only."""

from .api import (
    delete_api,
    edit_api,
    reaction_api,
    reply_api,
    resolve_api,
    revisions_api,
    thread_api,
    threads_api,
)
from .api_email import (
    outbox_api,
    outbox_html,
    preference_api,
    preference_html,
    test_email_api,
    unsubscribe,
)
from .api_lists import activity_api, actors_api, badges_api, inbox_api, inbox_read_api
from .pages import activity_html, inbox_html, target_html, thread_html

THREAD = r"^/-/comments/api/threads/(?P<thread_id>[0-9]+)"
COMMENT = r"^/-/comments/api/comments/(?P<comment_id>[0-9]+)"

routes = [
    (r"^/-/comments\Z", activity_html),
    (r"^/-/comments/inbox\Z", inbox_html),
    (r"^/-/comments/target\Z", target_html),
    (r"^/-/comments/threads/(?P<thread_id>[0-9]+)\Z", thread_html),
    (r"^/-/comments/api/threads\Z", threads_api),
    (THREAD + r"\Z", thread_api),
    (THREAD + r"/comments\Z", reply_api),
    (THREAD + r"/(?P<verb>resolve|reopen)\Z", resolve_api),
    (COMMENT + r"/edit\Z", edit_api),
    (COMMENT + r"/delete\Z", delete_api),
    (COMMENT + r"/reactions\Z", reaction_api),
    (COMMENT + r"/revisions\Z", revisions_api),
    (r"^/-/comments/api/badges\Z", badges_api),
    (r"^/-/comments/api/activity\Z", activity_api),
    (r"^/-/comments/api/inbox\Z", inbox_api),
    (r"^/-/comments/api/inbox/read\Z", inbox_read_api),
    (r"^/-/comments/api/actors\Z", actors_api),
    (r"^/-/comments/email\Z", preference_html),
    (r"^/-/comments/email/outbox\Z", outbox_html),
    (r"^/-/comments/unsubscribe\Z", unsubscribe),
    (r"^/-/comments/api/email/preference\Z", preference_api),
    (r"^/-/comments/api/email/outbox\Z", outbox_api),
    (r"^/-/comments/api/email/test\Z", test_email_api),
]
