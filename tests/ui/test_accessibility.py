"""The shared form rendering keeps its ARIA references whole, also in error states the browser sweep
(tests/e2e/test_polish_ui.py) does not reach: every id named by aria-describedby / aria-labelledby /
label for exists in the page, and every described field's help text and error are the elements named."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from connections.models import Destination, Source

BASE = "/w/acme/destinations/new"


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.wanted: list[tuple[str, str, str]] = []  # (attribute, id, tag)
        self.text_of: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        for name in ("aria-describedby", "aria-labelledby"):
            for ref in (a.get(name) or "").split():
                self.wanted.append((name, ref, tag))
        if tag == "label" and a.get("for"):
            self.wanted.append(("for", a["for"] or "", tag))


def _missing(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return [f"{attr}={ref} on <{tag}>" for attr, ref, tag in parser.wanted if ref not in parser.ids]


def test_settings_with_every_error_keep_their_references(owner_client: Client, webhook: Destination) -> None:
    response = owner_client.post(f"/w/acme/destinations/{webhook.id}/settings/",
                                 {"name": "", "url": "not a url", "headers": "no colon here", "op": "save"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'aria-describedby="id_url_helptext id_url_error"' in html
    assert '<p class="error" id="id_url_error">' in html and 'id="id_url_helptext"' in html
    assert _missing(html) == []


def test_wizard_configure_step_with_errors_keeps_its_references(
    owner_client: Client, js_source: Source, settings: Any
) -> None:
    owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    owner_client.post(f"{BASE}/sources/", {"source_ids": [str(js_source.id)]})
    response = owner_client.post(f"{BASE}/configure/", {"name": "", "url": "ftp://x", "batch_size": "many"})
    assert response.status_code == 400
    assert _missing(response.content.decode()) == []


@pytest.mark.parametrize("path", [
    "/login/", "/w/acme/connections/", "/w/acme/people/", "/w/acme/audiences/new/", "/w/acme/settings/",
    "/w/acme/members/", "/w/acme/privacy/", "/w/acme/audit/", "/api/docs/", "/w/acme/destinations/new/select/",
])
def test_pages_keep_their_references(owner_client: Client, webhook: Destination, path: str) -> None:
    response = (Client() if path == "/login/" else owner_client).get(path)
    assert response.status_code == 200
    assert _missing(response.content.decode()) == []
