"""`{{ action.trigger|trigger_words }}`: a trigger in plain language (destinations/trigger_text.py)."""

from __future__ import annotations

from django import template

from destinations.trigger_text import describe
from destinations.triggers import TriggerSyntaxError

register = template.Library()

# How many event names a sentence spells out in a list; the trigger text beside it has them all.
LIST_LIMIT = 3


@register.filter
def trigger_words(text: str) -> str:
    try:
        return describe(text, limit=LIST_LIMIT)
    except TriggerSyntaxError:
        return "The trigger does not parse: this action sends nothing."
