"""Every app of ours in INSTALLED_APPS ships in the wheel (`[tool.setuptools.packages.find] include`).

The bare-install test runs from a copy of the checkout, where a package left out of the wheel still imports
from the working directory; a wheel deployed anywhere else would fail at start. This catches that at once.
"""

from __future__ import annotations

import fnmatch
import tomllib

from django.conf import settings

from tests.faults.harness import REPO


def test_every_local_app_is_in_the_wheel() -> None:
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"][
        "include"]
    local = [app.split(".")[0] for app in settings.INSTALLED_APPS if (REPO / app.split(".")[0]).is_dir()]
    assert local, "no local app found"
    missing = [app for app in local if not any(fnmatch.fnmatch(app, p) for p in patterns)]
    assert not missing, f"apps not shipped by `pip install .`: {missing} (add them to packages.find include)"
