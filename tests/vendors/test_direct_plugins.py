"""The direct-mode plugins' runtime (static/js/plugins/runtime.js) evaluates triggers and mappings as the
server does: the same trigger texts and mappings, run through Python and through the JavaScript in node,
give the same answers. So an action's Actions tab means the same in direct mode as in cloud mode."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from destinations.browser import trigger_tree as to_tree
from destinations.catalog import get_definition
from destinations.mapping import UNDEFINED, apply_fields, resolve
from destinations.triggers import parse

RUNTIME = Path(__file__).resolve().parents[2] / "static" / "js" / "plugins" / "runtime.js"

TRIGGERS = [
    'type = "track"',
    'type = "track" and event = "Order Completed"',
    'event = "Application Installed" or event = "Application Opened"',
    "properties.total > 100", "properties.total >= 120.5", "properties.total < 100",
    'properties.total = "120.5"', "properties.total = 120.5",
    "traits.email exists", "traits.email not exists", "properties.missing = null", "properties.missing != null",
    "properties.coupon = null", 'context.device.type != "ios"',
    'event contains "Order"', 'contains(properties.tags, "sale")', "properties.tags contains 3",
    'event starts_with "Order"', 'ends_with(event, "ted")', 'event match "Order*"', 'event match "*der C*"',
    'event match "Order"', "properties.flag = true", "properties.flag = 1",
    'properties.products[0].sku = "sku-1"', 'properties.products[-1].sku = "sku-2"',
    'properties."odd key" = "x"', 'not (type = "identify" or type = "page")',
    'properties.name < "b"', 'properties.name > 5',
    'event in ["Order Completed", "Application Opened"]', 'event not in ["Order Completed"]',
    "properties.total in [120.5, 1]", "properties.flag in [true]", "properties.missing not in [1]",
]
EVENTS: list[dict[str, Any]] = [
    {"type": "track", "event": "Order Completed", "userId": "u1",
     "properties": {"total": 120.5, "coupon": None, "tags": ["sale", 3], "flag": True, "name": "apple",
                    "products": [{"sku": "sku-1"}, {"sku": "sku-2"}], "odd key": "x"},
     "context": {"device": {"type": "ios"}}},
    {"type": "identify", "userId": "u2", "traits": {"email": "ada@example.com", "first_name": "Ada"},
     "context": {"page": {"url": "https://shop.example/a", "path": "/a", "title": "A"}}},
    {"type": "page", "name": "Pricing", "properties": {"total": "120.5", "flag": 1},
     "context": {"page": {"url": "https://shop.example/pricing", "path": "/pricing"}}},
    {"type": "track", "event": "Application Opened", "properties": {}},
]
MAPPINGS: list[Any] = [
    {"email": {"@path": "$.traits.email"}, "nothing": {"@path": "$.traits.nope"}, "all": {"@path": "$"}},
    {"first": {"@path": "properties.products[0].sku"}, "last": {"@path": "$.properties.products[-1]"},
     "odd": {"@path": "$.properties['odd key']"}},
    {"who": {"@if": {"exists": {"@path": "$.userId"}, "then": {"@path": "$.userId"}, "else": "anonymous"}},
     "blank": {"@if": {"blank": {"@path": "$.properties.coupon"}, "then": "none"}}},
    {"text": {"@template": "{{event}} by {{ userId }} ({{properties.flag}}, {{properties.tags}}, {{x.y}})"}},
    {"lit": {"@literal": {"@path": "$.event"}}, "list": [1, {"@path": "$.nope"}, {"@path": "$.type"}]},
    {"skus": {"@arrayPath": ["$.properties.products", {"id": {"@path": "$.sku"}}]},
     "raw": {"@arrayPath": ["$.properties.tags"]}},
    {"name": {"@case": {"operator": "lower", "value": {
        "@replace": {"pattern": " ", "replacement": "_", "value": {"@path": "$.event"}}}}},
     "once": {"@replace": {"pattern": "o", "replacement": "0", "global": False, "ignorecase": True,
                           "value": {"@path": "$.event"}}}},
    {"enc": {"@json": {"mode": "encode", "value": {"@path": "$.properties.products"}}},
     "dec": {"@json": {"mode": "decode", "value": "{\"a\": [1, 2]}"}}},
    {"merged": {"@merge": {"objects": [{"a": 1, "b": 1}, {"@path": "$.traits"}, {"b": 2}]}},
     "left": {"@merge": {"direction": "left", "objects": [{"a": 1}, {"a": 2}]}}},
    {"flat": {"@flatten": {"value": {"@path": "$.properties"}, "separator": "_"}}},
    {"clean": {"@excludeWhenNull": {"@path": "$.properties"}}},
]


def _node(program: str) -> Any:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the browser runtime is checked with node >= 18")
    script = f"globalThis.window = globalThis;\n{RUNTIME.read_text()}\n{program}"
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_runtime_matches_triggers_like_the_server() -> None:
    cases = [[to_tree(t), e] for t in TRIGGERS for e in EVENTS]
    got = _node(f"""
        const cases = {json.dumps(cases)};
        console.log(JSON.stringify(cases.map(([tree, event]) => window.pipelinesPluginRuntime.matches(tree, event))));
    """)
    expected = [parse(t).matches(e) for t in TRIGGERS for e in EVENTS]
    mismatches = [(t, i, g) for (t, i), g, want in
                  zip([(t, i) for t in TRIGGERS for i in range(len(EVENTS))], got, expected) if g != want]
    assert mismatches == []
    assert any(expected) and not all(expected)


def test_the_runtime_resolves_mappings_like_the_server() -> None:
    cases = [[m, e] for m in MAPPINGS for e in EVENTS]
    got = _node(f"""
        const cases = {json.dumps(cases)};
        console.log(JSON.stringify(cases.map(([m, event]) => window.pipelinesPluginRuntime.resolve(m, event))));
    """)
    expected = [resolve(m, e) for m in MAPPINGS for e in EVENTS]
    assert all(v is not UNDEFINED for v in expected)
    # JSON spellings differ (Python's orjson vs JSON.stringify) only in spacing: compare decoded values
    for (mapping, event), g, want in zip(cases, got, expected):
        if "enc" in want:
            assert json.loads(g.pop("enc")) == json.loads(want.pop("enc"))
        assert g == want, (mapping, event)


def test_default_mappings_give_the_same_payloads_in_the_browser(events: dict[str, Any]) -> None:
    """Every direct-mode action's default mapping, in both languages, on the sample events its default
    trigger takes; a required field left empty means no call (the server's PayloadError)."""
    rows = []
    for key in ("ga4", "customerio_in_app"):
        definition = get_definition(key)
        for action in definition.actions:
            for event in events.values():
                if parse(action.default_trigger).matches(event):
                    rows.append((action, event))
    assert len({a.key for a, _ in rows}) == 5
    cases = [{"mapping": a.default_mapping(), "required": [f.key for f in a.fields if f.required]} for a, _ in rows]
    got = _node(f"""
        const cases = {json.dumps(cases)}, events = {json.dumps([e for _, e in rows])};
        console.log(JSON.stringify(cases.map((a, i) => window.pipelinesPluginRuntime.payload(a, events[i]))))
    """)
    for (action, event), g in zip(rows, got):
        try:
            want: dict[str, Any] | None = apply_fields(action, action.default_mapping(), event)
        except Exception:  # noqa: BLE001 -- PayloadError: the browser skips the call
            want = None
        assert g == want, (action.key, event["type"])


def test_ga4_custom_event_name_is_ga4_shaped(events: dict[str, Any]) -> None:
    action = get_definition("ga4").action("custom_event")
    payload = apply_fields(action, action.default_mapping(), events["track"])
    assert payload["name"] == "order_completed"
    assert payload["params"]["order_id"] == "o-1001"
