"""Fixtures for the JavaScript client tests: the pinned npm packages, a source with a write key.

The official libraries come from npm, pinned by `package-lock.json` next to this file, and are installed
with `npm ci` once per test session into `tests/clients/node_modules` (gitignored). The browser build our
server serves to websites is the repository's `js/` package (what `make analytics-js` installs); it is
installed here when missing. Nothing is vendored. If npm cannot install them the tests fail, with npm's
own output in the message.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from connections.models import Source
from connections.services import create_source
from pipelines.models import Workspace

if TYPE_CHECKING:
    from playwright.sync_api import Browser

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
REPO = HERE.parent.parent
JS = REPO / "js"


def _npm_ci(folder: Path, what: str) -> None:
    """`npm ci --prefix folder`, or fail the test with npm's own output."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(f"npm is not installed: {what} needs node >= 18 and npm on PATH.")
    shown = f"npm ci --prefix {folder.relative_to(REPO)}"
    try:
        result = subprocess.run(
            [npm, "ci", "--prefix", str(folder), "--no-audit", "--no-fund", "--loglevel=error"],
            check=False, capture_output=True, text=True, timeout=300, cwd=folder,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{shown}` did not finish within 300 s (is the npm registry reachable?)")
    if result.returncode != 0:
        pytest.fail(f"`{shown}` failed (exit {result.returncode}); {what} could not be installed.\n"
                    f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """`npm ci` the pinned client libraries (once per session) and return the node_modules folder."""
    _npm_ci(HERE, "the official JavaScript clients")
    for package in ("@segment/analytics-node", "@segment/analytics-next", "@rudderstack/rudder-sdk-node",
                    "customerio-node"):
        if not (NODE_MODULES / package / "package.json").is_file():
            pytest.fail(f"`npm ci` succeeded but {package} is missing from {NODE_MODULES}.")
    return NODE_MODULES


@pytest.fixture(scope="session")
def analytics_js_build() -> Path:
    """The browser build our server serves (js/, what `make analytics-js` installs), installed if missing
    or older than js/package-lock.json; returns its folder, the default ANALYTICS_JS_DIR."""
    stamp = JS / "node_modules" / ".package-lock.json"
    lock = JS / "package-lock.json"
    if not stamp.is_file() or stamp.stat().st_mtime < lock.stat().st_mtime:
        _npm_ci(JS, "the analytics.js browser build (`make analytics-js`)")
        stamp.touch()
    build = JS / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"
    if not (build / "standalone.js").is_file():
        pytest.fail(f"`npm ci --prefix js` succeeded but {build}/standalone.js is missing.")
    return build


@pytest.fixture
def node_source(transactional_db: Any, workspace: Workspace) -> Source:
    return create_source(workspace, name="API server", kind="node")[0]


@pytest.fixture
def web_source(transactional_db: Any, workspace: Workspace) -> Source:
    return create_source(workspace, name="Website", kind="javascript")[0]


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium. Module scope, not session: Playwright's sync API allows one running
    instance per thread, and each browser test module (here and in tests/e2e) starts and stops its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
