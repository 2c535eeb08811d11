"""What the management API accepts before any view runs: bounded numbers, clean strings, shallow JSON.

Everything here answers a 400 with `code` and `message` (through pipelines.api_errors) for input that a
column or the database could not hold, so that a fuzzer — or a client with a bug — never reaches a 500:

- `StrictJSONParser`: request bodies parsed by orjson (which refuses unpaired surrogates), then walked once
  for NUL characters (PostgreSQL's text and jsonb refuse them) and for nesting deeper than
  `MAX_JSON_DEPTH` (deep nesting would exhaust the recursion of the code that walks it later).
- `JSONValueField`: the same checks for JSON fields sent inside a form-encoded body, where the value
  arrives as a string.
- `refuse_nul_in_query`: a middleware that answers 400 for a NUL character in a query string.
- `Id`: an integer field for ids inside bodies, bounded to what a bigint primary key holds.
- `BoundedLimitOffsetPagination`: `limit` capped (an unbounded LIMIT overflows the database's integer).
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework import exceptions, serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser

# A bigint (PostgreSQL) or INTEGER (SQLite) primary key holds at most this; Django's BigAutoField starts at 1.
MAX_ID = 2**63 - 1
MAX_JSON_DEPTH = 32
MAX_PAGE_SIZE = 500


def check_json_value(value: Any) -> None:
    """Raise ValueError if `value` (parsed JSON) nests deeper than MAX_JSON_DEPTH or holds a NUL character."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("Strings must not contain NUL (\\u0000) characters.")
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"JSON must not nest deeper than {MAX_JSON_DEPTH} levels.")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def parse_json(raw: bytes | str) -> Any:
    """orjson.loads plus check_json_value; ValueError (orjson's JSONDecodeError is one) on refusal."""
    value = orjson.loads(raw)
    check_json_value(value)
    return value


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            return parse_json(raw)
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


class JSONValueField(serializers.JSONField):
    """serializers.JSONField with the body's checks, also for a value sent as a string in a form."""

    def to_internal_value(self, data: Any) -> Any:
        if getattr(data, "is_json_string", False) or self.binary:
            try:
                data = orjson.loads(data if isinstance(data, bytes) else str(data))  # orjson: exact str
            except orjson.JSONDecodeError:
                self.fail("invalid")
        try:
            check_json_value(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return data


def refuse_nul_in_query(get_response: Any) -> Any:
    """Middleware: a NUL character in a query parameter is a 400 (PostgreSQL can't compare text holding one);
    JSON {code, message} under /api/ through pipelines.api_errors.bad_request, Django's page elsewhere."""
    from django.core.exceptions import BadRequest

    from pipelines.api_errors import bad_request

    def middleware(request: Any) -> Any:
        query = request.META.get("QUERY_STRING", "")
        if ("\x00" in query or "%00" in query) and any(
            "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
        ):
            # Answered here, not raised: a client's mistake is no reason for a traceback in the log.
            return bad_request(request, BadRequest("Query parameters must not contain NUL (\\u0000) characters."))
        return get_response(request)

    return middleware


def Id(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_PAGE_SIZE

    def get_offset(self, request: Any) -> int:
        # An offset past every row is an empty page, as DRF answers for any offset beyond the count; capping
        # it keeps the value a database integer (and the links' arithmetic) can hold.
        return min(super().get_offset(request), MAX_ID // 2)
