"""The analytics.js browser library, served by this server the way Segment's CDN serves it.

A website installs a JavaScript source with the snippet from the Add Source instructions
(`connections/snippets.py`). The snippet sets `analytics._cdn` to this server and loads

- `/analytics.js/v1/<writeKey>/analytics.min.js`: the standalone build of @segment/analytics-next. It reads
  the write key and load options the snippet left on `window.analytics`, fetches
  `/v1/projects/<writeKey>/settings` (which checks the key) and posts events to `/v1`;
- `/v1/analytics-js/snippet/<writeKey>/analytics.min.js`: the same build, at the path Customer.io's own
  snippet loads (so that snippet works with only its host changed). That snippet sets no `analytics._cdn`
  and the library cannot read its CDN from this path, so this answer starts with one line setting
  `analytics._cdn` to this server (PUBLIC_URL, else the host asked) when the page has not set it;
- `/analytics-plugins/<name>.js`: our direct-mode plugins (destinations/browser.py), which the settings'
  `remotePlugins` name with `?v=<hash of the file>`: that URL is cacheable for good, any other for minutes;
- `/analytics-next/bundles/<name>`: the chunks that build lazy-loads (ajs-destination, schemaFilter, ...).
  Its webpack public path is `<analytics._cdn>/analytics-next/bundles/`, so they come from here too.

The files are those of the npm package installed by `make analytics-js` (`js/package.json`, pinned) in the
folder `settings.ANALYTICS_JS_DIR` (the package's `dist/umd`). Nothing third-party is committed. When the
package is not installed, both routes answer 404 JSON telling the operator to run `make analytics-js` or
set `ANALYTICS_JS_URL`; with `ANALYTICS_JS_URL` pointing at a CDN laid out like Segment's
(`https://host/analytics.js/v1/{writeKey}/analytics.min.js`), bundle requests are redirected to that
CDN's `/analytics-next/bundles/`, where the library would look for them next to its own copy.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt

from destinations import browser

from . import cors
from .views import error

STANDALONE = "standalone.js"
BUNDLES_PATH = "/analytics-next/bundles/"
# Code-split chunks carry a content hash in their name (`schemaFilter.bundle.a6a77355d52c20e3a83d.js`):
# a new version gets a new name, so browsers may keep them for good.
_HASHED = re.compile(r"\.bundle\.[0-9a-f]{8,}\.js(?:\.map)?$")
# What a bundle request may name: a script or its source map, no folders (the listing check below is the
# real guard; this one keeps odd names from ever touching the file system).
_SERVABLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.js(?:\.map)?$")
_SEGMENT_CDN_LAYOUT = re.compile(r"^(https?://[^{}]+?)/analytics\.js/v1/")

LONG_CACHE = "public, max-age=31536000, immutable"
# The entry scripts keep their name across versions: short, so an upgrade reaches visitors within minutes.
SHORT_CACHE = "public, max-age=300"

NOT_INSTALLED = (
    "The analytics.js browser library is not installed on this server. Run `make analytics-js` "
    "(it needs npm), or set ANALYTICS_JS_URL to a copy you host."
)


@dataclass(frozen=True)
class Asset:
    """A file of the browser build, read once per version of the file."""

    body: bytes
    gzipped: bytes | None  # the package's precompressed .gz sibling, when it has one
    content_type: str
    etag: str


def build_dir() -> Path:
    """The folder holding the browser build (settings.ANALYTICS_JS_DIR)."""
    return Path(settings.ANALYTICS_JS_DIR)


def is_installed() -> bool:
    """Whether the standalone build is there to serve."""
    return (build_dir() / STANDALONE).is_file()


def _servable_names(directory: Path) -> frozenset[str]:
    try:
        stat = directory.stat()
    except OSError:
        return frozenset()
    return _listing(str(directory), stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _listing(directory: str, mtime_ns: int) -> frozenset[str]:
    """The names a bundle request may ask for; keyed by the folder's mtime, so a reinstall is seen."""
    return frozenset(name for name in os.listdir(directory)
                     if _SERVABLE.match(name) and os.path.isfile(os.path.join(directory, name)))


def _asset(path: Path) -> Asset | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _read(path: str, mtime_ns: int, size: int) -> Asset:
    """The file's bytes (and its .gz sibling's), cached per (path, mtime, size) so edits are picked up."""
    body = Path(path).read_bytes()
    gz_path = Path(path + ".gz")
    gzipped: bytes | None = None
    if gz_path.is_file():
        candidate = gz_path.read_bytes()
        try:  # use the sibling only if it really is this file, compressed
            gzipped = candidate if gzip.decompress(candidate) == body else None
        except (OSError, EOFError):
            gzipped = None
    content_type = "application/json" if path.endswith(".map") else "application/javascript; charset=utf-8"
    return Asset(body, gzipped, content_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def _serve(request: HttpRequest, asset: Asset, cache_control: str) -> HttpResponse:
    if asset.etag in [tag.strip() for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        accepts_gzip = "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", "")
        use_gzip = asset.gzipped is not None and accepts_gzip
        response = HttpResponse(asset.gzipped if use_gzip else asset.body, content_type=asset.content_type)
        if use_gzip:
            response["Content-Encoding"] = "gzip"
        response["Content-Length"] = str(len(response.content))
    response["ETag"] = asset.etag
    response["Cache-Control"] = cache_control
    response["Vary"] = "Accept-Encoding"
    response["X-Content-Type-Options"] = "nosniff"
    # Pages on any origin load these scripts; CORS lets them use `crossorigin` script tags too.
    return cors.add_headers(response)


def _method_error(request: HttpRequest) -> HttpResponse | None:
    if request.method in ("GET", "HEAD"):
        return None
    response = error(405, "method_not_allowed", "Use GET.")
    response["Allow"] = "GET, HEAD"
    return response


@csrf_exempt
def analytics_min_js(request: HttpRequest, write_key: str) -> HttpResponse:
    """GET /analytics.js/v1/<writeKey>/analytics.min.js: the standalone build, the same for every key.

    The key is not checked here: the library fetches /v1/projects/<writeKey>/settings next, and that
    answers 404 for an unknown key. 404 JSON when the build is not installed.
    """
    if (refused := _method_error(request)) is not None:
        return refused
    asset = _asset(build_dir() / STANDALONE)
    if asset is None:
        return error(404, "not_installed", NOT_INSTALLED)
    return _serve(request, asset, SHORT_CACHE)


@csrf_exempt
def snippet_analytics_min_js(request: HttpRequest, write_key: str) -> HttpResponse:
    """GET /v1/analytics-js/snippet/<writeKey>/analytics.min.js: the standalone build behind a line that
    points the library at this server (see the module docstring). 404 JSON when not installed."""
    if (refused := _method_error(request)) is not None:
        return refused
    asset = _asset(build_dir() / STANDALONE)
    if asset is None:
        return error(404, "not_installed", NOT_INSTALLED)
    base = (settings.PUBLIC_URL or f"{request.scheme}://{request.get_host()}").rstrip("/")
    return _serve(request, _with_cdn(asset, base), SHORT_CACHE)


@lru_cache(maxsize=16)
def _with_cdn(asset: Asset, base: str) -> Asset:
    prelude = b"!function(a){if(a&&!a._cdn)a._cdn=" + orjson.dumps(base) + b"}(window.analytics);\n"
    body = prelude + asset.body
    return Asset(body, gzip.compress(body, mtime=0), asset.content_type,
                 f'"{hashlib.sha256(body).hexdigest()[:32]}"')


@csrf_exempt
def plugin(request: HttpRequest, name: str) -> HttpResponse:
    """GET /analytics-plugins/<name>.js: one direct-mode plugin (runtime + its own file), 404 JSON for a
    name no direct destination type has."""
    if (refused := _method_error(request)) is not None:
        return refused
    definition = browser.definition_for_plugin(name)
    try:
        source = browser.plugin_source(definition) if definition is not None else None
    except OSError:
        source = None
    if source is None:
        return error(404, "not_found", f"No direct-mode plugin named {name!r}.")
    cache = LONG_CACHE if request.GET.get("v") == source.version else SHORT_CACHE
    return _serve(request, _plugin_asset(source), cache)


@lru_cache(maxsize=16)
def _plugin_asset(source: browser.PluginSource) -> Asset:
    return Asset(source.body, gzip.compress(source.body, mtime=0), "application/javascript; charset=utf-8",
                 f'"{source.version}"')


@csrf_exempt
def bundle(request: HttpRequest, name: str) -> HttpResponse:
    """GET /analytics-next/bundles/<name>: one file of the installed build's folder, nothing else.

    Only names listed in that folder are served (no sub-folders, no `..`): anything else is 404 JSON.
    Hashed chunks are cacheable for a year, the entry scripts for minutes.
    """
    if (refused := _method_error(request)) is not None:
        return refused
    directory = build_dir()
    if not is_installed():
        elsewhere = _bundles_elsewhere(name)
        if elsewhere is not None:
            return cors.add_headers(HttpResponseRedirect(elsewhere))
        return error(404, "not_installed", NOT_INSTALLED)
    if name not in _servable_names(directory):
        return error(404, "not_found", f"No file named {name!r} in the analytics.js bundles.")
    asset = _asset(directory / name)
    if asset is None:  # removed since the folder was listed
        return error(404, "not_found", f"No file named {name!r} in the analytics.js bundles.")
    return _serve(request, asset, LONG_CACHE if _HASHED.search(name) else SHORT_CACHE)


def _bundles_elsewhere(name: str) -> str | None:
    """Where the library's own CDN keeps `name`, when ANALYTICS_JS_URL points at one laid out like
    Segment's (and not back at this server)."""
    override = getattr(settings, "ANALYTICS_JS_URL", "") or ""
    match = _SEGMENT_CDN_LAYOUT.match(override)
    if match is None or "{host}" in match.group(1) or not _SERVABLE.match(name):
        return None
    return f"{match.group(1)}{BUNDLES_PATH}{name}"
