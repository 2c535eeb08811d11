"""Slack: post a templated message to a channel through an incoming webhook.

API facts (api.slack.com/messaging/webhooks): `POST <hook URL>` with a JSON body `{"text": ...}` (mrkdwn,
optional `blocks`); the answer is 200 `ok`, or an error word: 400 `invalid_payload` / `no_text`, 403
`invalid_token` / `action_prohibited`, 404 `no_service`, 410 `channel_is_archived`, 429 with Retry-After.
Legacy hooks also honour `channel`, `username`, `icon_url`, `icon_emoji`; app-created hooks ignore them.
The hook URL is secret (it is the credential) and user-supplied, so it goes through the SSRF guard; in
production it is a hooks.slack.com URL (Slack-compatible hooks, e.g. Mattermost, also work).
"""

from __future__ import annotations

from typing import Any

from .. import http
from ..errors import DeliveryError, PayloadError
from .base import ActionDefinition, ActionField, DestinationDefinition, SettingField

KIND = "slack"
_OPTIONAL = ("channel", "username", "icon_url", "icon_emoji")


def build_message(settings: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The webhook body: the text, blocks if mapped, and per-action overrides of the settings' defaults."""
    text = payload.get("text")
    if text in (None, "") or (isinstance(text, str) and not text.strip()):
        raise PayloadError("missing text")
    body: dict[str, Any] = {"text": str(text)}
    if payload.get("blocks"):
        body["blocks"] = payload["blocks"]
    defaults = DEFINITION.read(settings)
    for key in _OPTIONAL:
        value = payload.get(key) or defaults[key]
        if value:
            body[key] = value
    return body


def perform(settings: dict[str, Any], payload: dict[str, Any]) -> http.Exchange:
    url = DEFINITION.read(settings).text("webhook_url")
    return http.send("POST", url, json=build_message(settings, payload), user_url=True, secrets=(url,))


def _validate(settings: dict[str, Any]) -> dict[str, str]:
    try:
        http.check_url(DEFINITION.read(settings).text("webhook_url"))
    except http.UnsafeURL as exc:
        return {"webhook_url": str(exc)}
    emoji = DEFINITION.read(settings).text("icon_emoji")
    if emoji and not (emoji.startswith(":") and emoji.endswith(":")):
        return {"icon_emoji": "Write the emoji as :name:, e.g. :rocket:."}
    return {}


def check_credentials(settings: dict[str, Any]) -> tuple[bool, str]:
    """Post an empty body: a live hook answers 400 (no text) without posting anything; a revoked or
    mistyped one answers 403/404/410."""
    url = DEFINITION.read(settings).text("webhook_url")
    try:
        exchange = http.send("POST", url, json={}, user_url=True, secrets=(url,))
    except DeliveryError as exc:
        if exc.status == 400:
            return True, "The webhook exists and accepts messages."
        if exc.status in (401, 403, 404, 410):
            answer = exc.exchange.response_body.strip() if exc.exchange else ""
            return False, f"Slack refused the webhook URL (HTTP {exc.status}{': ' + answer if answer else ''})."
        return False, exc.message
    return True, f"The webhook answered HTTP {exchange.status}."


POST_MESSAGE = ActionDefinition(
    key="post_message",
    title="Post Message",
    description="Post a message to Slack for each matching event.",
    default_trigger='type = "track"',
    fields=(
        ActionField("text", "Message", "string",
                    "The message (Slack mrkdwn). Use {{...}} to insert event fields.", required=True,
                    default={"@if": {"exists": {"@path": "$.userId"},
                                     "then": {"@template": "{{event}} by {{userId}}"},
                                     "else": {"@template": "{{event}} by anonymous user {{anonymousId}}"}}}),
        ActionField("blocks", "Blocks", "array", "Optional Block Kit blocks (the text is then the fallback)."),
        ActionField("channel", "Channel", "string", "Overrides the channel (legacy webhooks only)."),
        ActionField("username", "Bot name", "string", "Overrides the sender name (legacy webhooks only)."),
        ActionField("icon_url", "Icon URL", "string", "Overrides the sender icon (legacy webhooks only)."),
        ActionField("icon_emoji", "Icon emoji", "string", "e.g. :rocket: (legacy webhooks only)."),
    ),
    perform=perform,
)

DEFINITION = DestinationDefinition(
    key=KIND,
    name="Slack",
    category="Notifications",
    mode="cloud",
    description="Post a message to a Slack channel when events you choose happen.",
    settings=(
        SettingField("webhook_url", "Incoming webhook URL", "url",
                     "From your Slack app's Incoming Webhooks page (https://hooks.slack.com/services/...).",
                     required=True, secret=True),
        SettingField("channel", "Channel", "string", "Default channel, e.g. #signups (legacy webhooks only)."),
        SettingField("username", "Bot name", "string", "Default sender name (legacy webhooks only)."),
        SettingField("icon_url", "Icon URL", "url", "Default sender icon (legacy webhooks only)."),
        SettingField("icon_emoji", "Icon emoji", "string", "Default sender emoji, e.g. :rocket:."),
    ),
    actions=(POST_MESSAGE,),
    check_credentials=check_credentials,
    validate=_validate,
)
