"""PostgreSQL warehouse: every event written into Segment-style tables in a schema of your database.

Tables (all in the configured schema, each keyed by the event's messageId so re-delivery is harmless):
- `tracks` (one row per track call: event, event_text) and one table per event name, snake_cased
  (`Order Completed` → `order_completed`) with the event's properties as columns;
- `identifies` (traits as columns) and `users` (one row per userId, upserted: latest traits win);
- `pages`, `screens` (name, category, properties as columns), `groups` (group_id, traits as columns),
  `aliases` (previous_id).
Every table carries id, received_at, sent_at, original_timestamp, timestamp, uuid_ts (load time),
user_id, anonymous_id and the flattened context (`context_page_url`, `context_library_name`, ...).
Nested objects are flattened with `_`, keys snake_cased; arrays are stored as JSON text.

Columns appear as fields do: a new key adds a column (ALTER TABLE ... ADD COLUMN IF NOT EXISTS) typed
from its first value — boolean, numeric, timestamptz (ISO-8601 strings) or text. A later value of
another type is converted to the column's type, or stored as NULL when it cannot be; it never fails the
batch. A batch is written in one transaction; schema changes take a per-schema advisory lock so
concurrent workers do not race each other's DDL.

Errors: connection problems, timeouts and serialization failures are retryable; SQL data errors and
permission or authentication problems are not. The connection URL's host goes through the same SSRF
guard as HTTP destinations, and we connect to the exact address that was checked.
"""

from __future__ import annotations

import json
import re
import threading
import time
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import psycopg
from django.conf import settings as django_settings
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from .. import http, timestamps
from ..errors import DeliveryError, PayloadError
from ..mapping import event_person_traits, path
from .base import (
    ActionDefinition,
    ActionField,
    BatchResult,
    DestinationDefinition,
    SettingField,
    one_at_a_time,
)

KIND = "postgres"
DEFAULT_SCHEMA = "pipelines_events"
IDENTIFIER_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
WRITE_BATCH = 500
MAX_COLUMNS = 1000  # PostgreSQL allows 1,600 per table; stop adding well before
STATEMENT_TIMEOUT_MS = 60_000

# Tables named by type; an event whose snake_cased name is one of these gets a leading underscore.
TYPE_TABLES = {"track": "tracks", "identify": "identifies", "page": "pages", "screen": "screens",
               "group": "groups", "alias": "aliases"}
RESERVED_TABLES = frozenset(TYPE_TABLES.values()) | {"users"}
TIMESTAMP_COLUMNS = ("received_at", "sent_at", "original_timestamp", "timestamp")
# (event key, column) copied onto every table.
COMMON = (("receivedAt", "received_at"), ("sentAt", "sent_at"), ("originalTimestamp", "original_timestamp"),
          ("timestamp", "timestamp"), ("userId", "user_id"), ("anonymousId", "anonymous_id"))
# Columns PostgreSQL type names as information_schema reports them → our type words.
_PG_TYPES = {"text": "text", "character varying": "text", "numeric": "numeric", "boolean": "boolean",
             "timestamp with time zone": "timestamptz", "bigint": "integer", "integer": "integer",
             "smallint": "integer", "double precision": "float", "real": "float", "jsonb": "json", "json": "json",
             "timestamp without time zone": "timestamp", "date": "date"}
_DDL_TYPES = {"text": "text", "numeric": "numeric", "boolean": "boolean", "timestamptz": "timestamptz",
              "date": "date"}


# --- names -------------------------------------------------------------------------------------------------

def snake_case(name: str) -> str:
    """`Order Completed` → `order_completed`, `firstName` → `first_name`, `2fa on` → `_2fa_on`;
    "" when nothing usable is left. At most 63 characters (PostgreSQL's identifier limit)."""
    # Accented letters keep their base letter (é → e) rather than vanishing.
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = re.sub(r"([a-z])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([0-9])([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text).lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if text and text[0].isdigit():
        text = "_" + text
    return text[:63].rstrip("_") if len(text) > 63 else text


def event_table(event_name: Any) -> str:
    table = snake_case(event_name) if event_name else ""
    if table in RESERVED_TABLES:
        table = "_" + table
    return table


# --- rows ----------------------------------------------------------------------------------------------------

def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects become `a_b_c` keys (snake_cased); arrays become JSON text; scalars stay."""
    out: dict[str, Any] = {}
    if not isinstance(value, dict):
        return out
    for key, item in value.items():
        name = snake_case(key)
        if not name:
            continue
        column = f"{prefix}_{name}" if prefix else name
        if isinstance(item, dict):
            out.update(flatten(item, column))
        elif isinstance(item, list):
            out[column[:63]] = json.dumps(item, default=str, ensure_ascii=False)
        else:
            out[column[:63]] = item
    return out


def _add_fields(row: dict[str, Any], fields: dict[str, Any], source: str) -> None:
    """Add properties/traits columns; a name clashing with a column we own gets the source as prefix."""
    for column, value in flatten(fields).items():
        if column in row or column in ("id", "uuid_ts", "event", "event_text", "context"):
            column = f"{source}_{column}"[:63]
        row.setdefault(column, value)


def rows_for(event: dict[str, Any]) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any] | None]:
    """The (table, row) pairs one event writes, and the users row it upserts (identify with a userId).

    Raises PayloadError for an event without a messageId or with an unknown type."""
    message_id = event.get("messageId")
    if not message_id:
        raise PayloadError("missing messageId")
    kind = event.get("type")
    if kind not in TYPE_TABLES:
        raise PayloadError(f"unknown event type {kind!r}")
    base: dict[str, Any] = {"id": str(message_id)}
    for key, column in COMMON:
        if event.get(key) is not None:
            base[column] = event[key]
    base.update(flatten(event.get("context") or {}, "context"))

    rows: list[tuple[str, dict[str, Any]]] = []
    user: dict[str, Any] | None = None
    if kind == "track":
        name = event.get("event")
        if not name:
            raise PayloadError("missing event")
        track = {**base, "event": event_table(name) or None, "event_text": str(name)}
        rows.append(("tracks", track))
        table = event_table(name)
        if table:
            specific = dict(track)
            _add_fields(specific, event.get("properties") or {}, "properties")
            rows.append((table, specific))
    elif kind in ("page", "screen"):
        row = {**base, "name": event.get("name"), "category": event.get("category")}
        _add_fields(row, event.get("properties") or {}, "properties")
        rows.append((TYPE_TABLES[kind], row))
    elif kind == "identify":
        row = dict(base)
        traits = event_person_traits(event)
        _add_fields(row, traits, "traits")
        rows.append(("identifies", row))
        if event.get("userId"):
            user = {"id": str(event["userId"]),
                    "received_at": event.get("receivedAt"),
                    "updated_at": event.get("timestamp") or event.get("receivedAt")}
            _add_fields(user, traits, "traits")
    elif kind == "group":
        row = {**base, "group_id": event.get("groupId")}
        _add_fields(row, event.get("traits") or {}, "traits")
        rows.append(("groups", row))
    else:  # alias
        rows.append(("aliases", {**base, "previous_id": event.get("previousId")}))
    return rows, user


# --- types -----------------------------------------------------------------------------------------------------

def infer_type(column: str, value: Any) -> str | None:
    """The column type a first value asks for; None for null (no column is made for it)."""
    if value is None:
        return None
    if column in TIMESTAMP_COLUMNS or column == "updated_at":
        return "timestamptz"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "numeric"
    if timestamps.is_iso_datetime(value):
        return "timestamptz"
    if timestamps.is_iso_date(value):
        return "date"
    return "text"


def convert(value: Any, column_type: str) -> Any:
    """`value` as the column type wants it, or None when it cannot be (never an error for the batch)."""
    if value is None:
        return None
    if column_type == "text":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value, default=str, ensure_ascii=False)
        return str(value).replace("\x00", "")  # PostgreSQL text cannot hold NUL
    if column_type in ("numeric", "integer", "float"):
        if isinstance(value, bool):
            return None
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            return None
        if not number.is_finite():
            return None
        if column_type == "integer":
            return int(number) if number == number.to_integral_value() and abs(number) < 2**63 else None
        return float(number) if column_type == "float" else number
    if column_type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return None
    if column_type in ("timestamptz", "timestamp", "date"):
        if column_type == "date":
            return timestamps.parse_date(value)
        parsed = timestamps.parse(value)
        if parsed is None:
            return None
        return parsed if column_type == "timestamptz" else parsed.replace(tzinfo=None)
    if column_type == "json":
        return Jsonb(value)
    return str(value)


# --- connections and the SSRF guard --------------------------------------------------------------------------

def connection_params(url: str) -> dict[str, Any]:
    """Parse and check the connection URL. Raises ValueError (bad URL) or http.UnsafeURL (private host).

    Unless private addresses are allowed, every host is resolved, checked, and pinned with `hostaddr`
    so the connection goes to the address that passed the check (no DNS rebinding in between)."""
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        raise ValueError("Enter a URL such as postgres://user:password@db.example.com:5432/analytics.")
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"The connection URL cannot be read: {exc}") from None
    if not params.get("dbname"):
        raise ValueError("The connection URL must name a database (…/dbname).")
    hosts = [h for h in str(params.get("host") or "").split(",")]
    ports = [p for p in str(params.get("port") or "").split(",")]
    if params.get("hostaddr"):
        if not django_settings.OUTBOUND_ALLOW_PRIVATE:
            for ip in str(params["hostaddr"]).split(","):
                http.check_host(ip, 5432)
        return params
    pinned = []
    for i, host in enumerate(hosts):
        port = int(ports[i] if i < len(ports) and ports[i] else (ports[0] if ports and ports[0] else 5432))
        if not host and django_settings.OUTBOUND_ALLOW_PRIVATE:
            continue  # a local socket, allowed only in tests and the embedded demo
        addresses = http.check_host(host, port)
        if addresses:
            pinned.append(addresses[0])
    if pinned and len(pinned) == len(hosts):
        params["hostaddr"] = ",".join(pinned)
    return params


def describe(url: str) -> str:
    """The URL without its password, for delivery records."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return f"{parts.scheme}://{netloc}{parts.path}"


_local = threading.local()


def _connect(url: str) -> psycopg.Connection[Any]:
    """A connection per thread and URL, reused across batches; a broken one is replaced."""
    conns: dict[str, psycopg.Connection[Any]] = getattr(_local, "conns", None) or {}
    _local.conns = conns
    conn = conns.get(url)
    if conn is not None and not conn.closed and not conn.broken:
        return conn
    params = connection_params(url)
    params.setdefault("application_name", "pipelines-warehouse")
    params["connect_timeout"] = max(1, int(django_settings.OUTBOUND_CONNECT_TIMEOUT))
    conn = psycopg.connect(autocommit=True, **params)
    conns[url] = conn
    return conn


def _discard(url: str) -> None:
    conns = getattr(_local, "conns", None) or {}
    conn = conns.pop(url, None)
    if conn is not None:
        try:
            conn.close()
        except psycopg.Error:
            pass


# Errors that no retry will fix: bad password / role, missing database, no permission.
_PERMANENT_SQLSTATES = frozenset({"28000", "28P01", "3D000", "42501"})
_PERMANENT_MESSAGES = ("password authentication failed", "does not exist", "no pg_hba.conf entry",
                       "permission denied")


def _delivery_error(exc: Exception, exchange: http.Exchange, url: str) -> DeliveryError:
    password = urlsplit(url).password or ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    if password:
        message = message.replace(password, http.REDACTED)
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        permanent = sqlstate in _PERMANENT_SQLSTATES or any(m in message for m in _PERMANENT_MESSAGES)
        retryable = not permanent
    else:  # DataError, IntegrityError, ProgrammingError, ...: the same batch would fail the same way
        retryable = False
    exchange.response_body = f"{sqlstate or ''} {message}".strip()
    return DeliveryError(f"PostgreSQL: {message}", retryable=retryable, exchange=exchange)


# --- writing ---------------------------------------------------------------------------------------------------

def _existing_columns(cur: psycopg.Cursor[Any], schema: str, tables: list[str]) -> dict[str, dict[str, str]]:
    cur.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = ANY(%s)",
        (schema, tables),
    )
    found: dict[str, dict[str, str]] = {}
    for table, column, data_type in cur.fetchall():
        found.setdefault(table, {})[column] = _PG_TYPES.get(data_type, "text")
    return found


def _plan(rows: dict[str, list[dict[str, Any]]], existing: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """New columns per table ({table: {column: type}}), typed from the first non-null value."""
    plan: dict[str, dict[str, str]] = {}
    for table, table_rows in rows.items():
        have = existing.get(table, {})
        new: dict[str, str] = {}
        for row in table_rows:
            for column, value in row.items():
                if column in have or column in new:
                    continue
                kind = infer_type(column, value)
                if kind is not None and len(have) + len(new) < MAX_COLUMNS:
                    new[column] = kind
        if new or table not in existing:
            plan[table] = new
    return plan


def _apply_plan(cur: psycopg.Cursor[Any], schema: str, plan: dict[str, dict[str, str]]) -> list[str]:
    added = []
    for table, columns in plan.items():
        cur.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.{} (id text PRIMARY KEY, uuid_ts timestamptz NOT NULL DEFAULT now())"
        ).format(sql.Identifier(schema), sql.Identifier(table)))
        for column, kind in columns.items():
            cur.execute(sql.SQL("ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS {} " + _DDL_TYPES[kind]).format(
                sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column)))
            added.append(f"{table}.{column} {kind}")
    return added


def _insert(cur: psycopg.Cursor[Any], schema: str, table: str, rows: list[dict[str, Any]],
            types: dict[str, str]) -> None:
    """INSERT rows (grouped by their column sets); a row whose id is already there is skipped."""
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        columns = tuple(sorted(c for c in row if c in types and (c == "id" or row[c] is not None)))
        groups.setdefault(columns, []).append(tuple(convert(row[c], types[c]) for c in columns))
    for columns, values in groups.items():
        statement = sql.SQL("INSERT INTO {}.{} ({}) VALUES ({}) ON CONFLICT (id) DO NOTHING").format(
            sql.Identifier(schema), sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        cur.executemany(statement, values)


def _upsert_users(cur: psycopg.Cursor[Any], schema: str, users: list[dict[str, Any]], types: dict[str, str]) -> None:
    """Latest identify wins per column; an identify older than the stored row does not overwrite it."""
    for user in users:
        columns = [c for c in sorted(user) if c in types and (c == "id" or user[c] is not None)]
        updates = [c for c in columns if c != "id"]
        target = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier("users"))
        statement = sql.SQL("INSERT INTO {} AS u ({}) VALUES ({}) ON CONFLICT (id) DO ").format(
            target, sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)))
        if updates:
            statement += sql.SQL(
                "UPDATE SET {}, uuid_ts = now() WHERE u.updated_at IS NULL OR EXCLUDED.updated_at IS NULL "
                "OR u.updated_at <= EXCLUDED.updated_at"
            ).format(sql.SQL(", ").join(
                sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in updates))
        else:
            statement += sql.SQL("NOTHING")
        cur.execute(statement, tuple(convert(user[c], types[c]) for c in columns))


def write_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    """Write the events of `payloads` (each {"event": <event>}) in one transaction.

    Events that cannot be written at all (no messageId, unknown type) are item errors; the rest go in."""
    s = DEFINITION.read(settings)
    url, schema = s.text("connection_url"), s.text("schema")
    item_errors: dict[int, Exception] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    users: dict[str, dict[str, Any]] = {}
    for i, payload in enumerate(payloads):
        event = payload.get("event")
        if not isinstance(event, dict):
            item_errors[i] = PayloadError("missing event")
            continue
        try:
            event_rows, user = rows_for(event)
        except PayloadError as exc:
            item_errors[i] = exc
            continue
        for table, row in event_rows:
            rows.setdefault(table, []).append(row)
        if user is not None:
            merged = users.setdefault(user["id"], {})
            if _newer_or_same(user, merged):
                merged.update({k: v for k, v in user.items() if v is not None})
            else:
                for k, v in user.items():
                    merged.setdefault(k, v)
    if not rows:
        raise PayloadError("; ".join(sorted({str(e) for e in item_errors.values()})) or "no events")
    if users:
        rows["users"] = list(users.values())

    counts = {table: len(table_rows) for table, table_rows in rows.items()}
    exchange = http.Exchange(
        method="INSERT", url=f"{describe(url)} (schema {schema})", request_headers={},
        request_body=json.dumps({"rows": counts}),
    )
    recorder = http.active_capture()
    if recorder is not None:
        recorder.exchanges.append(exchange)
        if recorder.dry_run:
            return BatchResult(exchange=exchange, item_errors=item_errors)

    started = time.monotonic()
    try:
        conn = _connect(url)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(STATEMENT_TIMEOUT_MS)))
            existing = _existing_columns(cur, schema, list(rows))
            plan = _plan(rows, existing)
            added: list[str] = []
            if plan:
                # One writer changes a schema at a time; re-read after the lock, another may have done it.
                cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"pipelines:{schema}",))
                cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                existing = _existing_columns(cur, schema, list(rows))
                plan = _plan(rows, existing)
                added = _apply_plan(cur, schema, plan)
                for table, columns in plan.items():
                    existing.setdefault(table, {"id": "text", "uuid_ts": "timestamptz"}).update(columns)
            for table, table_rows in rows.items():
                if table == "users":
                    _upsert_users(cur, schema, table_rows, existing["users"])
                else:
                    _insert(cur, schema, table, table_rows, existing[table])
    except (psycopg.Error, OSError) as exc:
        exchange.duration_ms = int((time.monotonic() - started) * 1000)
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, OSError)):
            _discard(url)
        raise _delivery_error(exc, exchange, url) from exc
    except ValueError as exc:  # a bad or unsafe connection URL (http.UnsafeURL is a ValueError)
        raise DeliveryError(str(exc), retryable=False, exchange=exchange) from exc
    exchange.duration_ms = int((time.monotonic() - started) * 1000)
    exchange.response_body = "COMMIT" + (f"; added columns: {', '.join(added)}" if added else "")
    return BatchResult(exchange=exchange, item_errors=item_errors)


def _newer_or_same(user: dict[str, Any], merged: dict[str, Any]) -> bool:
    new, old = timestamps.parse(user.get("updated_at")), timestamps.parse(merged.get("updated_at"))
    return old is None or new is None or new >= old


perform = one_at_a_time(write_batch)


# --- settings ----------------------------------------------------------------------------------------------------

def _validate(settings: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    schema = DEFINITION.read(settings).text("schema")
    if not IDENTIFIER_RE.match(schema) or schema.startswith("pg_") or schema == "information_schema":
        errors["schema"] = ("Use lowercase letters, digits and underscores (at most 63, not starting with a "
                            "digit or pg_).")
    try:
        connection_params(DEFINITION.read(settings).text("connection_url"))
    except (ValueError, http.UnsafeURL) as exc:
        errors["connection_url"] = str(exc)
    return errors


def check_credentials(settings: dict[str, Any]) -> tuple[bool, str]:
    """Connect and run SELECT 1 (a fresh connection, not a cached one)."""
    url = DEFINITION.read(settings).text("connection_url")
    try:
        params = connection_params(url)
        params["connect_timeout"] = max(1, int(django_settings.OUTBOUND_CONNECT_TIMEOUT))
        with psycopg.connect(autocommit=True, **params) as conn:
            conn.execute("SELECT 1").fetchone()
            version = conn.info.server_version
    except (ValueError, http.UnsafeURL) as exc:
        return False, str(exc)
    except psycopg.Error as exc:
        return False, _delivery_error(exc, http.Exchange("CONNECT", describe(url), {}, ""), url).message
    return True, f"Connected to PostgreSQL {version // 10000}.{version % 10000}."


WRITE_EVENTS = ActionDefinition(
    key="write_events",
    title="Write Events",
    description="Write every event into Segment-style tables (tracks, one per event, identifies, users, ...).",
    default_trigger='type in ["track", "identify", "page", "screen", "group", "alias"]',
    fields=(
        ActionField("event", "Event", "object", "The event written to the tables (the whole event by default).",
                    required=True, default=path("$.")),
    ),
    perform=perform,
    perform_batch=write_batch,
    batch_size=WRITE_BATCH,
)

DEFINITION = DestinationDefinition(
    key=KIND,
    name="PostgreSQL",
    category="Warehouses",
    mode="cloud",
    description="Load your events into tables in your own PostgreSQL database.",
    settings=(
        SettingField("connection_url", "Connection URL", "string",
                     "postgres://user:password@host:5432/database — the user needs CREATE on the database "
                     "(or on the schema). Add ?sslmode=require for TLS.", required=True, secret=True),
        SettingField("schema", "Schema", "string",
                     "The schema the tables are written to; created if missing.", default=DEFAULT_SCHEMA),
    ),
    actions=(WRITE_EVENTS,),
    check_credentials=check_credentials,
    validate=_validate,
)

