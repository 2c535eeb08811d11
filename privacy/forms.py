"""The Privacy page's form: one person, named by any of three identifiers, and what to do."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from . import services


class PersonForm(forms.Form):
    ACTIONS = (("delete", "Delete this person's data"), ("suppress", "Suppress"), ("unsuppress", "Unsuppress"))

    # the submit button's value
    action = forms.ChoiceField(choices=ACTIONS, widget=forms.HiddenInput, error_messages={
        "required": "Choose what to do: delete, suppress or unsuppress.",
        "invalid_choice": "Choose what to do: delete, suppress or unsuppress.",
    })
    user_id = forms.CharField(label="User ID", required=False, max_length=200,
                              help_text="The userId their events carry.")
    email = forms.CharField(label="Email", required=False, max_length=254,
                            help_text="Matched case-insensitively in traits.email and context.traits.email.")
    anonymous_id = forms.CharField(label="Anonymous ID", required=False, max_length=200,
                                   help_text="The anonymousId their events carry.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            data["identities"] = services.clean_identities(
                **{k: data.get(k, "") for k in ("user_id", "email", "anonymous_id")})
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
            else:
                raise
        return data
