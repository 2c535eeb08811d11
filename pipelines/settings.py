"""Settings, read from the environment with django-environ.

Every value has a default that runs with no configuration (SQLite in var/, an embedded filesystem
Celery broker); production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY, FIELD_ENCRYPTION_KEY, ...
Bad values fail loudly with ImproperlyConfigured.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Local state of the embedded mode (SQLite file, filesystem broker, kept demo password, static files).
VAR_DIR = Path(env.str("PIPELINES_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
# No default: a key everyone can read signs nothing. `make run` (pipelines/devserver.py) generates one
# into var/secret-key; every other way of starting the project must set it.
SECRET_KEY = env.str("SECRET_KEY", default="").strip()
# The development value this project's earlier versions defaulted to: it is public, so it is refused.
PUBLIC_DEVELOPMENT_SECRET_KEY = "dev-insecure-change-me-" + "x" * 40
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set it to a long random value "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))'); `make run` generates one for the demo."
    )
if SECRET_KEY == PUBLIC_DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the public development key of earlier versions. Set a long random value of your own "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), then run `python manage.py "
        "rotate_secrets --public-development-key` so stored destination secrets move under it."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Keys for encrypting destination secrets at rest: a comma-separated list of Fernet keys, the first one
# encrypts, all of them decrypt (that is how a key is rotated: prepend the new one, run
# `manage.py rotate_secrets`, then drop the old one). Without it a key is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEY", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "pipelines",
    "connections",
    "destinations",
    "ingest",
    "audit",
    "retention",
    "privacy",
    "profiles",
    "audiences",
    "audience_sync",
]

MIDDLEWARE = [
    "ingest.middleware.TrackingAPIShortcut",  # /v1/* (the hot path) skips the rest: see its docstring
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "pipelines.api_input.refuse_nul_in_query",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.context.AuditRequestMiddleware",  # who made a change, for the audit log (after authentication)
]

ROOT_URLCONF = "pipelines.urls"
WSGI_APPLICATION = "pipelines.wsgi.application"
ASGI_APPLICATION = "pipelines.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read and write the same file concurrently.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# --- Email (workspace invitations) ---------------------------------------------------------------------
# EMAIL_URL in django-environ's form, e.g. smtp+tls://user:password@smtp.example.com:587; without it mail
# is printed on the console (what `make run` shows). Tests use Django's in-memory backend.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Pipelines <pipelines@localhost>")
# How long an invitation link stays valid.
INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Security (production values when DEBUG is off) -------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", False) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG and SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST framework -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "pipelines.api_input.BoundedLimitOffsetPagination",
    "DEFAULT_PARSER_CLASSES": [
        "pipelines.api_input.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "pipelines.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pipelines management API",
    "DESCRIPTION": (
        "Workspaces, members and invitations, sources, destinations, actions, events, deliveries, privacy "
        "requests, retention and the audit log. "
        "Every route under /api/workspaces/{slug}/ needs a role in that workspace: viewer to read, member to "
        "test actions, admin to change sources, destinations, actions and keys and to invite, owner to manage "
        "members. Below it the answer is 403 {\"code\": \"permission_denied\", \"message\"}; a workspace "
        "you are not a member of is 404."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pipelines.openapi_links.add_create_links",  # a create links to the read/update/delete of what it made
    ],
    # choice sets that share a field name ("kind": sources, the catalog's keys, privacy requests, ...) get
    # names of their own
    "ENUM_NAME_OVERRIDES": {
        "PrivacyRequestKindEnum": "privacy.models.PrivacyRequest.Kind",
        "IdentityKindEnum": "privacy.models.IdentityKind",
        "SourceKindEnum": "connections.models.SourceKind",
        "AudienceChangeKindEnum": "audiences.models.MembershipEvent.Kind",
        "AudienceSyncModeEnum": "audience_sync.models.SyncMode",
        "AudienceKindEnum": "audiences.models.Audience.Kind",
    },
}

# --- Celery -------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Embedded broker: messages are files under var/broker, so `make run` needs no server.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast/control exchanges (worker pings, remote control); kombu's default is ./control.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_PREFETCH", default=4)
# Celery would close the database connection after every task; pipelines/celery.py recycles it the
# Django way instead (CONN_MAX_AGE, CONN_HEALTH_CHECKS).
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long an enqueue may wait for the broker before the request gives up on it (the sweep takes over).
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_TASK_PUBLISH_RETRY = False
# Periodic tasks (outbox sweep, due retries); each area adds its entries in its block below.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {}
# Queues: "celery" (fan-out), "deliveries" (first attempts), "retries" (retries never block first
# attempts). A worker must consume all three: `celery -A pipelines worker -Q celery,deliveries,retries`.
CELERY_WORKER_QUEUES = "celery,deliveries,retries"

# --- Pipeline behaviour ------------------------------------------------------------------------------
# Events not dispatched after this many seconds are re-enqueued by the outbox sweep.
OUTBOX_GRACE_SECONDS = env.int("OUTBOX_GRACE_SECONDS", default=30)
OUTBOX_SWEEP_INTERVAL = env.float("OUTBOX_SWEEP_INTERVAL", default=15.0)
# Per-source ingest rate limit in requests per second; 0 disables it.
INGEST_RATE_LIMIT = env.float("INGEST_RATE_LIMIT", default=0)
# Proxies whose X-Forwarded-For is believed for context.ip (comma-separated IPs/CIDRs).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Public base URL of this server, used in snippets and browser settings; derived from the request if empty.
PUBLIC_URL = env.str("PUBLIC_URL", default="")
# Outbound delivery.
OUTBOUND_ALLOW_PRIVATE = env.bool("OUTBOUND_ALLOW_PRIVATE", default=False)
OUTBOUND_CONNECT_TIMEOUT = env.float("OUTBOUND_CONNECT_TIMEOUT", default=5.0)
OUTBOUND_READ_TIMEOUT = env.float("OUTBOUND_READ_TIMEOUT", default=15.0)
# CA certificates outbound TLS trusts (a PEM file); empty: certifi's bundle. Set it for a private CA.
OUTBOUND_CA_BUNDLE = env.str("OUTBOUND_CA_BUNDLE", default="")
# The most of a vendor's or webhook's response body (after decompression) a worker reads; a larger one is a
# delivery error (destinations/http.py).
OUTBOUND_MAX_RESPONSE_BYTES = env.int("OUTBOUND_MAX_RESPONSE_BYTES", default=1024 * 1024)
DELIVERY_RETRY_WINDOW = env.int("DELIVERY_RETRY_WINDOW", default=4 * 3600)
# Vendor host overrides: "customerio=http://127.0.0.1:9000,mixpanel=http://127.0.0.1:9001".
DESTINATION_ENDPOINTS = env.dict("DESTINATION_ENDPOINTS", default={})

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Delivery engine (destinations/fanout.py, destinations/delivery.py) ----------------------------------
# Worker layout: `celery -A pipelines worker -Q celery,deliveries` for fan-out and first attempts, and
# at least one `celery -A pipelines worker -Q retries` so retries never hold up first attempts (a single
# worker consuming all three queues also works: CELERY_WORKER_QUEUES).
DELIVERY_SWEEP_INTERVAL = env.float("DELIVERY_SWEEP_INTERVAL", default=5.0)
# A pending row whose task has not run this long is presumed lost (killed worker, wiped broker).
DELIVERY_LOST_TASK_GRACE = env.int("DELIVERY_LOST_TASK_GRACE", default=60)
# SQLite only (PostgreSQL holds rows with row locks): how long a worker leases the rows it is sending (at
# least 3 × the outbound timeouts).
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=120)
# Rows per delivery task for one-event-per-request actions (batching actions: at least one batch).
DELIVERY_TASK_SIZE = env.int("DELIVERY_TASK_SIZE", default=100)
# Batch requests one first-attempt task carries at most, when fan-out has that many for one action (its
# send threads send them at once): fewer, fuller tasks under load, no waiting when there is not.
DELIVERY_TASK_REQUESTS = env.int("DELIVERY_TASK_REQUESTS", default=4)
# Requests one delivery task sends concurrently to its destination.
DELIVERY_SEND_THREADS = env.int("DELIVERY_SEND_THREADS", default=8)
# Tasks sending to one destination at once, across all workers (0: no limit). Keep it below the first-
# attempt worker's concurrency: a destination that hangs then never holds every worker process.
DELIVERY_DESTINATION_CONCURRENCY = env.int("DELIVERY_DESTINATION_CONCURRENCY", default=4)
# Seconds a worker caches a source's routing (connections, destinations, actions).
DELIVERY_ROUTING_TTL = env.float("DELIVERY_ROUTING_TTL", default=5.0)
CELERY_BEAT_SCHEDULE["delivery-retries"] = {
    "task": "destinations.sweep",
    "schedule": DELIVERY_SWEEP_INTERVAL,
    "options": {"queue": "retries", "expires": DELIVERY_SWEEP_INTERVAL * 2},
}
CELERY_TASK_ROUTES = {
    "destinations.fan_out": {"queue": "celery"},
    "destinations.deliver_chunks": {"queue": "deliveries"},
    "destinations.deliver": {"queue": "deliveries"},
    "destinations.sweep": {"queue": "retries"},
    "privacy.run_deletion": {"queue": "retries"},
    "privacy.retry_forwards": {"queue": "retries"},
    "privacy.sweep": {"queue": "retries"},
}
# Declared so a worker started without -Q consumes all three queues (and the test worker does too).
CELERY_TASK_QUEUES = {name: {"exchange": name, "routing_key": name} for name in CELERY_WORKER_QUEUES.split(",")}

# --- Ingest ---------------------------------------------------------------------------------------------
# Write key → source lookups are cached per process for this long (hits and misses).
INGEST_KEY_CACHE_SECONDS = env.float("INGEST_KEY_CACHE_SECONDS", default=10.0)
# After a failed publish, requests skip the broker for this long (the outbox sweep sends their events).
INGEST_BROKER_BACKOFF_SECONDS = env.float("INGEST_BROKER_BACKOFF_SECONDS", default=5.0)
# 0: each request publishes its fan-out task right after commit, before answering. > 0: a thread per
# process publishes the ids of all requests committed within this many milliseconds as one task (much
# cheaper per request under load; the response no longer waits for the broker). Either way the outbox
# sweep covers a publish that never happens.
INGEST_DISPATCH_WINDOW_MS = env.float("INGEST_DISPATCH_WINDOW_MS", default=0)
# Commit the events of concurrent /v1 requests in one transaction per process (see ingest/group_commit.py):
# several times the single-event throughput when commits are the limit. Each response still waits for
# its commit. Off by default (PostgreSQL production setting; needs no configuration beyond this flag).
INGEST_GROUP_COMMIT = env.bool("INGEST_GROUP_COMMIT", default=False)
if not CELERY_BROKER_URL.startswith("filesystem://"):
    # A publish must fail fast, not hang, when the broker is unreachable: bound the TCP connect
    # (redis-py's default is none at all) so an ingest request never waits long on the broker.
    CELERY_BROKER_TRANSPORT_OPTIONS.setdefault("socket_connect_timeout", CELERY_BROKER_CONNECTION_TIMEOUT)
CELERY_BEAT_SCHEDULE["outbox-sweep"] = {
    "task": "ingest.outbox_sweep",
    "schedule": OUTBOX_SWEEP_INTERVAL,
    "options": {"expires": OUTBOX_SWEEP_INTERVAL},
}

# --- Connections UI ------------------------------------------------------------------------------------
# Where the JavaScript snippet loads analytics.js from; "{host}" and "{writeKey}" are filled in. Empty:
# this server's /analytics.js/v1/{writeKey}/analytics.min.js (served from ANALYTICS_JS_DIR, see below).
# The snippet always sets analytics._cdn = this server, so settings and events come to us either way.
ANALYTICS_JS_URL = env.str("ANALYTICS_JS_URL", default="")

# --- Browser library (analytics.js) ---------------------------------------------------------------------
# The @segment/analytics-next browser build this server serves at /analytics.js/v1/<key>/analytics.min.js
# and /analytics-next/bundles/* (ingest/analytics_js.py); `make analytics-js` installs it from npm.
ANALYTICS_JS_DIR = Path(env.str(
    "ANALYTICS_JS_DIR",
    default=str(BASE_DIR / "js" / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"),
))

# --- Direct mode ------------------------------------------------------------------------------------------
# Where direct-mode plugins (static/js/plugins/) load each vendor's own script from, by catalog key; a key
# not named here uses the vendor's (e.g. Google's gtag.js). Env: "ga4=https://…,customerio_in_app=https://…".
DIRECT_MODE_SCRIPT_URLS = env.dict("DIRECT_MODE_SCRIPT_URLS", default={})

# --- Security (reliability) -------------------------------------------------------------------------
# Production sets (see docs/reliability.md): DEBUG=false, SECRET_KEY, FIELD_ENCRYPTION_KEY, ALLOWED_HOSTS,
# SECURE_SSL_REDIRECT=true (or BEHIND_TLS_PROXY=true behind a TLS-terminating proxy), SECURE_HSTS_SECONDS,
# SECURE_HSTS_INCLUDE_SUBDOMAINS=true, SECURE_HSTS_PRELOAD=true; `manage.py check --deploy` is then clean.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Failed write-key / API-key authentications per client IP per minute before ingest answers 429
# (unknown keys are how brute force looks); 0 disables the limit.
AUTH_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=30)
AUTH_FAILURE_WINDOW = env.int("AUTH_FAILURE_WINDOW", default=60)

# --- Retention (retention/purge.py, docs/retention.md) ---------------------------------------------------
# Every workspace's RetentionPolicy is applied by the beat task "retention.purge_expired" on the retries
# queue: at most RETENTION_PURGE_BATCH rows per transaction, at most RETENTION_PURGE_MAX_SECONDS per run,
# and after each batch a pause of RETENTION_PURGE_PAUSE times the batch's duration (1.0: the purge works
# half the time), so a large backlog does not take the database from ingest (figures: docs/retention.md).
RETENTION_PURGE_INTERVAL = env.float("RETENTION_PURGE_INTERVAL", default=600.0)
RETENTION_PURGE_BATCH = env.int("RETENTION_PURGE_BATCH", default=1000)
RETENTION_PURGE_MAX_SECONDS = env.float("RETENTION_PURGE_MAX_SECONDS", default=240.0)
RETENTION_PURGE_PAUSE = env.float("RETENTION_PURGE_PAUSE", default=1.0)
if RETENTION_PURGE_BATCH < 1 or RETENTION_PURGE_MAX_SECONDS <= 0 or RETENTION_PURGE_INTERVAL <= 0 \
        or RETENTION_PURGE_PAUSE < 0:
    raise ImproperlyConfigured("RETENTION_PURGE_BATCH, _MAX_SECONDS and _INTERVAL must be positive, "
                               "RETENTION_PURGE_PAUSE zero or more.")
CELERY_BEAT_SCHEDULE["retention-purge"] = {
    "task": "retention.purge_expired",
    "schedule": RETENTION_PURGE_INTERVAL,
    "options": {"queue": "retries", "expires": RETENTION_PURGE_INTERVAL},
}
CELERY_TASK_ROUTES["retention.purge_expired"] = {"queue": "retries"}
# Deleting a workspace (retention/workspace_deletion.py): the same batches, pause and time budget per run;
# the beat task "retention.sweep_deletions" re-enqueues a deletion whose run was lost.
CELERY_TASK_ROUTES["retention.delete_workspace"] = {"queue": "retries"}
CELERY_TASK_ROUTES["retention.sweep_deletions"] = {"queue": "retries"}
CELERY_BEAT_SCHEDULE["retention-sweep-deletions"] = {
    "task": "retention.sweep_deletions",
    "schedule": 300.0,
    "options": {"queue": "retries", "expires": 300},
}

# --- Audiences (audiences/, docs/audiences.md) -----------------------------------------------------------
# Time-window exits: the beat task "audiences.sweep_due" (retries queue) re-evaluates only the memberships
# and candidates whose due time has passed, at most AUDIENCES_SWEEP_LIMIT of each per run. A new or edited
# audience is computed over all people in batches of AUDIENCES_COMPUTE_BATCH (celery queue).
AUDIENCES_SWEEP_INTERVAL = env.float("AUDIENCES_SWEEP_INTERVAL", default=60.0)
AUDIENCES_SWEEP_LIMIT = env.int("AUDIENCES_SWEEP_LIMIT", default=5000)
AUDIENCES_COMPUTE_BATCH = env.int("AUDIENCES_COMPUTE_BATCH", default=1000)
if AUDIENCES_SWEEP_INTERVAL <= 0 or AUDIENCES_SWEEP_LIMIT < 1 or AUDIENCES_COMPUTE_BATCH < 1:
    raise ImproperlyConfigured("AUDIENCES_SWEEP_INTERVAL, _SWEEP_LIMIT and _COMPUTE_BATCH must be positive.")
# Freezes the audiences clock (an ISO time): for tests and demos only.
AUDIENCES_FROZEN_NOW = env.str("AUDIENCES_FROZEN_NOW", default="") or None
CELERY_BEAT_SCHEDULE["audiences-sweep"] = {
    "task": "audiences.sweep_due",
    "schedule": AUDIENCES_SWEEP_INTERVAL,
    "options": {"queue": "retries", "expires": AUDIENCES_SWEEP_INTERVAL},
}
CELERY_TASK_ROUTES["audiences.sweep_due"] = {"queue": "retries"}
CELERY_TASK_ROUTES["audiences.compute"] = {"queue": "celery"}

# --- Audience sync (audience_sync/, docs/audience-sync.md) -------------------------------------------------
# The beat tick "audience_sync.tick" enqueues every connected audience whose sync is due (realtime ones at
# every tick, the others every interval_minutes). A sync sends AUDIENCE_SYNC_BATCH people (backfill) or
# log rows per batch, at most AUDIENCE_SYNC_MAX_BATCHES batches per task run.
AUDIENCE_SYNC_TICK = env.float("AUDIENCE_SYNC_TICK", default=15.0)
AUDIENCE_SYNC_BATCH = env.int("AUDIENCE_SYNC_BATCH", default=1000)
AUDIENCE_SYNC_MAX_BATCHES = env.int("AUDIENCE_SYNC_MAX_BATCHES", default=50)
# How often (seconds) a sync also fetches the ad platform's own audience size for validation (Meta's bounds).
AUDIENCE_SYNC_SIZE_INTERVAL = env.float("AUDIENCE_SYNC_SIZE_INTERVAL", default=3600.0)
if AUDIENCE_SYNC_TICK <= 0 or AUDIENCE_SYNC_BATCH < 1 or AUDIENCE_SYNC_MAX_BATCHES < 1:
    raise ImproperlyConfigured("AUDIENCE_SYNC_TICK, _BATCH and _MAX_BATCHES must be positive.")
CELERY_BEAT_SCHEDULE["audience-sync"] = {
    "task": "audience_sync.tick",
    "schedule": AUDIENCE_SYNC_TICK,
    "options": {"queue": "retries", "expires": AUDIENCE_SYNC_TICK},
}
CELERY_TASK_ROUTES["audience_sync.tick"] = {"queue": "retries"}
CELERY_TASK_ROUTES["audience_sync.sync_connection"] = {"queue": "retries"}

# --- Privacy (privacy/) ---------------------------------------------------------------------------------
# Each process keeps a workspace's suppressed identities in memory this long (see privacy/suppression.py):
# a suppression reaches the other processes' ingest within this many seconds.
PRIVACY_SUPPRESSION_CACHE_SECONDS = env.float("PRIVACY_SUPPRESSION_CACHE_SECONDS", default=5.0)
# A deletion walks the workspace's events this many ids at a time (one short transaction per batch).
PRIVACY_SCAN_BATCH = env.int("PRIVACY_SCAN_BATCH", default=5000)
# A deletion forwarded to a destination that failed retryably (timeout, 429, 5xx) is sent again after
# this many seconds, then 4, 16, 64 and 256 times as long.
PRIVACY_FORWARD_RETRY_SECONDS = env.float("PRIVACY_FORWARD_RETRY_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE["privacy-sweep"] = {
    "task": "privacy.sweep",
    "schedule": 300.0,
    "options": {"queue": "retries", "expires": 300},
}

# --- Profiles (profiles/, docs/profiles.md) -----------------------------------------------------------------
# Days of per-day event counts kept per person when no audience needs a longer window (an audience app can
# ask for more through profiles.history.register_window); never more than the workspace's event retention.
PROFILES_HISTORY_DAYS = env.int("PROFILES_HISTORY_DAYS", default=90)
if PROFILES_HISTORY_DAYS < 1:
    raise ImproperlyConfigured("PROFILES_HISTORY_DAYS must be at least 1.")
CELERY_BEAT_SCHEDULE["profiles-trim-history"] = {
    "task": "profiles.trim_history",
    "schedule": 3600.0 * 6,
    "options": {"queue": "retries", "expires": 3600.0 * 6},
}
CELERY_TASK_ROUTES["profiles.trim_history"] = {"queue": "retries"}
