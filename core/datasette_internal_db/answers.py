"""A short-lived memory of permission answers, for checks repeated on every page or request.

``datasette.allowed()`` costs a query; a menu link or a badge drawn on every page asks the same
question again and again. ``RecentAnswers`` keeps each answer for ``ANSWER_SECONDS`` per
Datasette, action, resource and actor, so a revoked permission shows through within that time.
Use it only where that lag is acceptable (showing the way, reads repeated within a second);
write paths always ask ``datasette.allowed()`` afresh.
"""

import json
import weakref

from . import clock

ANSWER_SECONDS = 1.0
MAX_ENTRIES = 10_000


class RecentAnswers:
    def __init__(self, seconds=ANSWER_SECONDS):
        self.seconds = seconds
        self._answers = weakref.WeakKeyDictionary()  # datasette → {key: (until, allowed)}

    async def allowed(self, datasette, action, actor, resource=None):
        answers = self._answers.setdefault(datasette, {})
        where = None if resource is None else (resource.name, resource.parent, resource.child)
        # Anonymous visitors are most requests: their key needs no serialising.
        who = None if actor is None else json.dumps(actor, sort_keys=True, default=str)
        key = (action, where, who)
        now = clock.now()
        found = answers.get(key)
        if found is None or found[0] <= now:
            if len(answers) >= MAX_ENTRIES:
                answers.clear()
            allowed = await datasette.allowed(action=action, resource=resource, actor=actor)
            found = answers[key] = (now + self.seconds, allowed)
        return found[1]

    def forget(self, datasette):
        """Drop every answer kept for ``datasette`` (after a permission change it made itself)."""
        self._answers.pop(datasette, None)


recent_answers = RecentAnswers()
