"""The fault stack is session-scoped: private PostgreSQL + Redis, web server, worker and beat, started
once for tests/faults and always stopped at the end (logs printed when a test failed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .harness import Stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    s = Stack()
    try:
        s.start()
        yield s
    except BaseException:
        print(s.logs())
        raise
    finally:
        s.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "stack" in getattr(item, "funcargs", {}):
        report.sections.append(("fault stack logs", item.funcargs["stack"].logs()))
