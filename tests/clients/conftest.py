"""Fixtures for the JavaScript client tests: the pinned npm packages, a source with a write key.

The official libraries come from npm, pinned by `package-lock.json` next to this file, and are installed
with `npm ci` once per test session into `tests/clients/node_modules` (gitignored). Nothing is vendored.
If npm cannot install them the tests fail, with npm's own output in the message.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from connections.models import Source
from connections.services import create_source
from pipelines.models import Workspace

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """`npm ci` the pinned client libraries (once per session) and return the node_modules folder."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed: the JavaScript client tests need node >= 18 and npm on PATH.")
    try:
        result = subprocess.run(
            [npm, "ci", "--prefix", str(HERE), "--no-audit", "--no-fund", "--loglevel=error"],
            check=False, capture_output=True, text=True, timeout=300, cwd=HERE,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("`npm ci --prefix tests/clients` did not finish within 300 s (is the npm registry reachable?)")
    if result.returncode != 0:
        pytest.fail(
            f"`npm ci --prefix tests/clients` failed (exit {result.returncode}); the official JavaScript "
            f"clients could not be installed.\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    for package in ("@segment/analytics-node", "@segment/analytics-next"):
        if not (NODE_MODULES / package / "package.json").is_file():
            pytest.fail(f"`npm ci` succeeded but {package} is missing from {NODE_MODULES}.")
    return NODE_MODULES


@pytest.fixture
def node_source(transactional_db: Any, workspace: Workspace) -> Source:
    return create_source(workspace, name="API server", kind="node")[0]


@pytest.fixture
def web_source(transactional_db: Any, workspace: Workspace) -> Source:
    return create_source(workspace, name="Website", kind="javascript")[0]
