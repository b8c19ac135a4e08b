"""A short-lived memory of permission answers, for checks repeated on every page or request.

``datasette.allowed()`` costs a query; a menu link or a badge drawn on every page asks the same
question again and again. ``RecentAnswers`` keeps each answer for ``ANSWER_SECONDS`` per
Datasette, action (or set of actions, ``allowed_many``), resource and actor, so a revoked
permission shows through within that time. Use it only where that lag is acceptable (showing
the way, reads repeated within a second); write paths always ask ``datasette.allowed()`` afresh.

Callers that find the same answer missing at the same moment (many requests in flight when it
expires) share one question instead of each making its own. An answer used in the last
``REFRESH_SHARE`` of its lifetime is returned and asked again in the background, so steady
traffic never waits for a question: only the first request, or one after a quiet second, does.
Questions are asked outside any request's context: a request's own permission cache or its
``skip_permission_checks`` (``datasette.client``) never shapes an answer other requests get.
"""

import asyncio
import contextvars
import json
import weakref

from . import clock

ANSWER_SECONDS = 1.0
REFRESH_SHARE = 0.2
MAX_ENTRIES = 10_000


class RecentAnswers:
    def __init__(self, seconds=ANSWER_SECONDS):
        self.seconds = seconds
        self._answers = weakref.WeakKeyDictionary()  # datasette → {key: (until, answer)}
        self._asking = weakref.WeakKeyDictionary()  # datasette → {key: task asking now}

    async def allowed(self, datasette, action, actor, resource=None):
        return await self._answer(
            datasette,
            (action, *_key(actor, resource)),
            lambda: datasette.allowed(action=action, resource=resource, actor=actor),
        )

    async def allowed_many(self, datasette, actions, actor, resource=None):
        """``{action: bool}`` for several actions on one resource: one ``datasette.allowed_many``
        question (one query) for the whole set, kept as one answer."""
        actions = tuple(actions)
        answer = await self._answer(
            datasette,
            (actions, *_key(actor, resource)),
            lambda: datasette.allowed_many(actions=list(actions), resource=resource, actor=actor),
        )
        return dict(answer)  # a copy: no caller can change what another one gets

    async def _answer(self, datasette, key, ask):
        answers = self._answers.setdefault(datasette, {})
        found = answers.get(key)
        now = clock.now()
        if found is not None and found[0] > now:
            if found[0] - now < self.seconds * REFRESH_SHARE:
                self._question(datasette, answers, key, ask)
            return found[1]
        # shield: a caller cancelled while waiting does not cancel the others' answer.
        return await asyncio.shield(self._question(datasette, answers, key, ask))

    def _question(self, datasette, answers, key, ask):
        """The task asking ``key`` now, started unless one is already running."""
        asking = self._asking.setdefault(datasette, {})
        question = asking.get(key)
        if question is None:
            # Started in an empty context, which the task copies (create_task's context= is
            # Python 3.11+).
            question = contextvars.Context().run(
                asyncio.ensure_future, self._ask(answers, asking, key, ask)
            )
            asking[key] = question
            # A failed background question leaves the answer to expire; nobody else reads it.
            question.add_done_callback(lambda task: task.cancelled() or task.exception())
        return question

    async def _ask(self, answers, asking, key, ask):
        now = clock.now()
        try:
            answer = await ask()
        finally:
            asking.pop(key, None)
        if len(answers) >= MAX_ENTRIES:
            answers.clear()
        answers[key] = (now + self.seconds, answer)
        return answer

    def forget(self, datasette):
        """Drop every answer kept for ``datasette`` (after a permission change it made itself)."""
        self._answers.pop(datasette, None)
        self._asking.pop(datasette, None)


def _key(actor, resource):
    where = None if resource is None else (resource.name, resource.parent, resource.child)
    # Anonymous visitors are most requests: their key needs no serialising.
    who = None if actor is None else json.dumps(actor, sort_keys=True, default=str)
    return where, who


recent_answers = RecentAnswers()
