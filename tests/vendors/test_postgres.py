"""PostgreSQL warehouse: rows written into a throwaway database, columns added, errors classified."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from destinations import http
from destinations.catalog import get_definition
from destinations.errors import DeliveryError, SettingsError

from .conftest import query as _query

WAREHOUSE = get_definition("postgres")
WRITE = WAREHOUSE.action("write_events")


def _columns(url: str, schema: str, table: str) -> dict[str, str]:
    rows = _query(url, "SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = %s AND table_name = %s", schema, table)
    return dict(rows)


def test_batch_writes_segment_style_tables(warehouse: str, events: dict[str, Any]) -> None:
    settings = WAREHOUSE.clean_settings({"connection_url": warehouse, "schema": "acme_web"})
    result = WRITE.perform_batch(settings, [{"event": e} for e in events.values()])
    assert result.item_errors == {}
    assert "COMMIT" in result.exchange.response_body

    tables = {r[0] for r in _query(warehouse, "SELECT table_name FROM information_schema.tables "
                                              "WHERE table_schema = 'acme_web'")}
    assert tables == {"tracks", "order_completed", "identifies", "users", "pages", "screens", "groups", "aliases"}

    assert _query(warehouse, "SELECT id, event, event_text, user_id, anonymous_id, timestamp::text, "
                             "context_page_url, context_library_name FROM acme_web.tracks") == [
        ("msg-track-1", "order_completed", "Order Completed", "user-42", "anon-7", "2024-05-01 12:00:00+00",
         "https://shop.example.com/cart", "analytics.js")]
    order = _query(warehouse, "SELECT order_id, total, currency, gift, products, context_ip "
                              "FROM acme_web.order_completed")
    assert order == [("o-1001", Decimal("99.5"), "EUR", False, '[{"sku": "A1", "quantity": 2}]', "203.0.113.7")]
    columns = _columns(warehouse, "acme_web", "order_completed")
    assert columns["total"] == "numeric" and columns["gift"] == "boolean" and columns["order_id"] == "text"
    assert columns["received_at"] == "timestamp with time zone"
    assert "coupon" not in columns  # null only: no column is made for it

    assert _query(warehouse, "SELECT id, email, first_name, last_name, logins, created_at::text "
                             "FROM acme_web.identifies") == [
        ("msg-identify-1", "ada@example.com", "Ada", "Lovelace", Decimal(12), "2023-01-02 03:04:05+00")]
    assert _query(warehouse, "SELECT id, email, plan, updated_at::text FROM acme_web.users") == [
        ("user-42", "ada@example.com", "pro", "2024-05-01 11:59:00+00")]
    assert _query(warehouse, "SELECT name, category, url, title FROM acme_web.pages") == [
        ("Pricing", "Docs", "https://shop.example.com/pricing", "Pricing")]
    assert _query(warehouse, "SELECT name, variant, context_device_type FROM acme_web.screens") == [
        ("Home", "B", "ios")]
    assert _query(warehouse, "SELECT group_id, name, employees FROM acme_web.groups") == [
        ("acme-inc", "Acme Inc", Decimal(250))]
    assert _query(warehouse, "SELECT user_id, previous_id FROM acme_web.aliases") == [("user-42", "anon-7")]


def test_new_fields_add_columns_and_odd_values_never_fail(warehouse: str, events: dict[str, Any]) -> None:
    settings = {"connection_url": warehouse, "schema": "acme_web"}
    WRITE.perform(settings, {"event": events["track"]})
    later = {**events["track"], "messageId": "msg-track-2",
             "properties": {"total": "not a number", "gift": "true", "Shipping Method": "express",
                            "nested": {"Deep Value": 3}}}
    WRITE.perform(settings, {"event": later})
    columns = _columns(warehouse, "acme_web", "order_completed")
    assert columns["shipping_method"] == "text" and columns["nested_deep_value"] == "numeric"
    rows = _query(warehouse, "SELECT id, total, gift, shipping_method, nested_deep_value "
                             "FROM acme_web.order_completed ORDER BY id")
    assert rows == [("msg-track-1", Decimal("99.5"), False, None, None),
                    ("msg-track-2", None, True, "express", Decimal(3))]


def test_redelivery_does_not_duplicate_and_users_keep_the_latest(warehouse: str, events: dict[str, Any]) -> None:
    settings = {"connection_url": warehouse, "schema": "acme_web"}
    newer = {**events["identify"], "messageId": "msg-identify-2", "timestamp": "2024-06-01T00:00:00Z",
             "traits": {"plan": "enterprise"}}
    WRITE.perform_batch(settings, [{"event": events["identify"]}, {"event": newer}])
    WRITE.perform_batch(settings, [{"event": events["identify"]}])  # a retry of an older event
    assert _query(warehouse, "SELECT count(*) FROM acme_web.identifies") == [(2,)]
    assert _query(warehouse, "SELECT id, email, plan FROM acme_web.users") == [
        ("user-42", "ada@example.com", "enterprise")]


def test_event_names_become_safe_table_names(warehouse: str, events: dict[str, Any]) -> None:
    settings = {"connection_url": warehouse, "schema": "acme_web"}
    names = ["Users", "2FA Enabled", 'Robert"); DROP TABLE tracks;--', "checkoutStarted"]
    batch = [{"event": {**events["track"], "messageId": f"m{i}", "event": n}} for i, n in enumerate(names)]
    WRITE.perform_batch(settings, batch)
    tables = {r[0] for r in _query(warehouse, "SELECT table_name FROM information_schema.tables "
                                              "WHERE table_schema = 'acme_web'")}
    assert {"_users", "_2fa_enabled", "robert_drop_table_tracks", "checkout_started", "tracks"} <= tables
    assert _query(warehouse, "SELECT count(*) FROM acme_web.tracks") == [(4,)]


def test_events_without_message_id_are_item_errors(warehouse: str, events: dict[str, Any]) -> None:
    settings = {"connection_url": warehouse, "schema": "acme_web"}
    bad = {k: v for k, v in events["page"].items() if k != "messageId"}
    result = WRITE.perform_batch(settings, [{"event": bad}, {"event": events["alias"]}])
    assert set(result.item_errors) == {0} and "messageId" in str(result.item_errors[0])
    assert _query(warehouse, "SELECT count(*) FROM acme_web.aliases") == [(1,)]


def test_preview_dry_run_writes_nothing(warehouse: str, events: dict[str, Any]) -> None:
    settings = {"connection_url": warehouse, "schema": "acme_web"}
    with http.capture(dry_run=True) as captured:
        WRITE.perform(settings, {"event": events["track"]})
    assert captured.exchanges[0].request_body == '{"rows": {"tracks": 1, "order_completed": 1}}'
    assert _query(warehouse, "SELECT count(*) FROM pg_namespace WHERE nspname = 'acme_web'") == [(0,)]


def test_connection_errors_are_retryable(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    settings.OUTBOUND_CONNECT_TIMEOUT = 1
    # Port 9 on loopback: nothing listens, the connection is refused.
    with pytest.raises(DeliveryError) as exc:
        WRITE.perform({"connection_url": "postgres://root:pw-secret@127.0.0.1:9/db"},
                      {"event": {"type": "alias", "messageId": "m", "userId": "a", "previousId": "b"}})
    assert exc.value.retryable and "pw-secret" not in exc.value.message


def test_sql_errors_are_permanent(warehouse: str, events: dict[str, Any]) -> None:
    # A table the customer made with a column type we cannot write into: the insert fails for good.
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA acme_web")
        conn.execute("CREATE TABLE acme_web.aliases (id integer PRIMARY KEY, uuid_ts timestamptz)")
    with pytest.raises(DeliveryError) as exc:
        WRITE.perform({"connection_url": warehouse, "schema": "acme_web"}, {"event": events["alias"]})
    assert not exc.value.retryable and exc.value.message.startswith("PostgreSQL:")


def test_missing_database_is_permanent(warehouse: str) -> None:
    ok, message = WAREHOUSE.check_credentials({"connection_url": warehouse + "_missing"})
    assert not ok and "does not exist" in message


def test_credentials_test_runs_select_1(warehouse: str) -> None:
    ok, message = WAREHOUSE.check_credentials({"connection_url": warehouse})
    assert ok and message.startswith("Connected to PostgreSQL 1")


def test_private_hosts_are_refused_at_save_and_at_send(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    for url in ("postgres://u:p@127.0.0.1:5432/db", "postgres://u:p@10.1.2.3/db", "postgres://u:p@/db?host=/tmp",
                "postgres://u:p@localhost/db"):
        with pytest.raises(SettingsError) as exc:
            WAREHOUSE.clean_settings({"connection_url": url})
        assert "connection_url" in exc.value.errors, url
    with pytest.raises(DeliveryError) as sent:
        WRITE.perform({"connection_url": "postgres://root@127.0.0.1:5432/postgres"},
                      {"event": {"type": "alias", "messageId": "m", "userId": "a", "previousId": "b"}})
    assert not sent.value.retryable and "private or local" in sent.value.message


@pytest.mark.parametrize("schema", ["Acme", "1abc", "pg_catalog", "a-b", "x" * 64, 'a"b'])
def test_bad_schema_names_are_rejected(settings: Any, schema: str) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    with pytest.raises(SettingsError) as exc:
        WAREHOUSE.clean_settings({"connection_url": "postgres://root@127.0.0.1/db", "schema": schema})
    assert "schema" in exc.value.errors


def test_non_postgres_urls_are_rejected(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    with pytest.raises(SettingsError) as exc:
        WAREHOUSE.clean_settings({"connection_url": "mysql://root@127.0.0.1/db"})
    assert "connection_url" in exc.value.errors
