"""A short-lived memory of permission answers, for checks repeated on every page or request.

``datasette.allowed()`` costs a query; a menu link or a badge drawn on every page asks the same
question again and again. ``RecentAnswers`` keeps each answer for ``ANSWER_SECONDS`` per
Datasette, action, resource and actor, so a revoked permission shows through within that time.
Use it only where that lag is acceptable (showing the way, reads repeated within a second);
write paths always ask ``datasette.allowed()`` afresh.

Callers that find the same answer missing at the same moment (many requests in flight when it
expires) share one ``datasette.allowed()`` call instead of each making its own.
"""

import asyncio
import json
import weakref

from . import clock

ANSWER_SECONDS = 1.0
MAX_ENTRIES = 10_000


class RecentAnswers:
    def __init__(self, seconds=ANSWER_SECONDS):
        self.seconds = seconds
        self._answers = weakref.WeakKeyDictionary()  # datasette → {key: (until, allowed)}
        self._asking = weakref.WeakKeyDictionary()  # datasette → {key: task asking now}

    async def allowed(self, datasette, action, actor, resource=None):
        answers = self._answers.setdefault(datasette, {})
        where = None if resource is None else (resource.name, resource.parent, resource.child)
        # Anonymous visitors are most requests: their key needs no serialising.
        who = None if actor is None else json.dumps(actor, sort_keys=True, default=str)
        key = (action, where, who)
        found = answers.get(key)
        if found is not None and found[0] > clock.now():
            return found[1]
        asking = self._asking.setdefault(datasette, {})
        question = asking.get(key)
        if question is None:
            question = asking[key] = asyncio.ensure_future(
                self._ask(datasette, answers, asking, key, action, actor, resource)
            )
        # shield: a caller cancelled while waiting does not cancel the others' answer.
        return await asyncio.shield(question)

    async def _ask(self, datasette, answers, asking, key, action, actor, resource):
        now = clock.now()
        try:
            allowed = await datasette.allowed(action=action, resource=resource, actor=actor)
        finally:
            asking.pop(key, None)
        if len(answers) >= MAX_ENTRIES:
            answers.clear()
        answers[key] = (now + self.seconds, allowed)
        return allowed

    def forget(self, datasette):
        """Drop every answer kept for ``datasette`` (after a permission change it made itself)."""
        self._answers.pop(datasette, None)
        self._asking.pop(datasette, None)


recent_answers = RecentAnswers()
