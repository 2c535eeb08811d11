"""`manage.py check --deploy` is clean with production settings, and flags what a deployment forgets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k7Qe-9vX2pLr_4NcYt8Ww1Zs6Ha3Jm0Fb5Ud-Rg2Ko7Ei9Tn4Cx1Vq8Pl3Ay6Bh",
    "ALLOWED_HOSTS": "pipelines.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://pipelines.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "OUTBOUND_ALLOW_PRIVATE": "false",
}


def _check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(PRODUCTION_ENV)
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_check_deploy_is_clean_with_production_settings() -> None:
    done = _check_deploy()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_warns_about_a_missing_encryption_key_and_open_ssrf_guard() -> None:
    done = _check_deploy(FIELD_ENCRYPTION_KEY="", OUTBOUND_ALLOW_PRIVATE="true")
    output = done.stderr + done.stdout
    assert done.returncode != 0
    assert "pipelines.W002" in output
    assert "pipelines.W003" in output


def test_check_deploy_flags_a_site_served_without_https() -> None:
    done = _check_deploy(SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    output = done.stderr + done.stdout
    assert done.returncode != 0
    assert "security.W008" in output  # SECURE_SSL_REDIRECT
    assert "security.W004" in output  # HSTS
