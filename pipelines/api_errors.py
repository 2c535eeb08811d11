"""One error shape for the management API: {"code", "message", "errors"?}, never an HTML 500 page."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    original = exc
    if isinstance(exc, DjangoValidationError):
        # Services (connections.services, ...) speak Django's ValidationError; the API answers 400 for it.
        exc = as_drf_validation_error(exc)
    elif isinstance(exc, DjangoPermissionDenied):
        # A role below what the route needs (pipelines.tenancy): 403 {code: "permission_denied", message}.
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        body: dict[str, Any] = {"code": _validation_code(original), "message": _first_message(data), "errors": data}
    else:
        code = getattr(exc, "default_code", "error")
        detail = data.get("detail", data) if isinstance(data, dict) else data
        body = {"code": code, "message": str(detail)}
    if response.status_code == status.HTTP_404_NOT_FOUND:
        body["code"] = "not_found"
    response.data = body
    return response


def _validation_code(exc: Exception) -> str:
    """"invalid_request", or the code a service gave its one-message ValidationError (e.g. "last_owner")."""
    if isinstance(exc, DjangoValidationError) and not hasattr(exc, "error_dict"):
        codes = {e.code for e in exc.error_list}
        if len(codes) == 1 and None not in codes and codes != {"invalid"}:
            return str(codes.pop())
    return "invalid_request"


def _first_message(data: Any) -> str:
    if isinstance(data, dict):
        for key, value in data.items():
            msg = _first_message(value)
            return msg if key in ("non_field_errors", "detail") else f"{key}: {msg}"
        return "Invalid request."
    if isinstance(data, list) and data:
        return _first_message(data[0])
    return str(data)


def as_drf_validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    """The same problem as a DRF ValidationError, field errors kept by field name."""
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(
            {("non_field_errors" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
        )
    return exceptions.ValidationError({"non_field_errors": exc.messages})


# --- Error pages for URLs no view answered (wired as handler400 / 404 / 500 in pipelines/urls.py) ---------
# API clients must get the same JSON shape for "no such route" and for a crash as for any other error;
# browsers keep Django's HTML pages.
_JSON_PREFIXES = ("/api/", "/v1/")


def _wants_json(request: Any) -> bool:
    return request.path.startswith(_JSON_PREFIXES)


def page_not_found(request: Any, exception: Exception | None = None) -> Any:
    """404 for a URL no view matched: JSON {code, message} under /api/ and /v1/, Django's page elsewhere."""
    from django.http import JsonResponse
    from django.views import defaults

    if _wants_json(request):
        return JsonResponse({"code": "not_found", "message": f"No such resource: {request.path}"}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: Any, exception: Exception | None = None) -> Any:
    """400 for a request Django refused before any view (e.g. a Host not in ALLOWED_HOSTS): JSON
    {code, message} under /api/ and /v1/, Django's page elsewhere."""
    from django.conf import settings
    from django.core.exceptions import BadRequest, DisallowedHost, RequestDataTooBig, TooManyFieldsSent
    from django.http import JsonResponse
    from django.views import defaults

    if not _wants_json(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return JsonResponse({"code": "payload_too_large",
                             "message": f"The request body is larger than this API accepts ({limit} bytes)."},
                            status=413)
    if isinstance(exception, BadRequest):  # raised by our own code with a message meant for the client
        return JsonResponse({"code": "invalid_request", "message": str(exception)}, status=400)
    if isinstance(exception, TooManyFieldsSent):
        return JsonResponse({"code": "invalid_request", "message": "The request has too many form fields."},
                            status=400)
    if isinstance(exception, DisallowedHost):
        return JsonResponse({"code": "bad_request", "message": "This request cannot be served here (check the "
                             "Host header against ALLOWED_HOSTS)."}, status=400)
    return JsonResponse({"code": "bad_request", "message": "The request was refused as malformed."}, status=400)


def permission_denied(request: Any, exception: Exception | None = None) -> Any:
    """403 for a Django PermissionDenied (a role below what the view needs, see pipelines.tenancy): JSON
    {code: "permission_denied", message} under /api/ and /v1/; a page saying what is missing elsewhere."""
    from django.http import JsonResponse
    from django.shortcuts import render

    message = str(exception) if exception and str(exception) else "You don't have permission to do this."
    if _wants_json(request):
        return JsonResponse({"code": "permission_denied", "message": message}, status=403)
    return render(request, "403.html", {"message": message}, status=403)


def server_error(request: Any) -> Any:
    """500 after an unhandled exception: JSON {code, message} under /api/ and /v1/ (no details leak)."""
    from django.http import JsonResponse
    from django.views import defaults

    if _wants_json(request):
        return JsonResponse({"code": "server_error", "message": "Something went wrong on our side; retry later."},
                            status=500)
    return defaults.server_error(request)
