"""The API's plumbing, once: JSON errors, bearer authentication, body parsing.

Every error is `{"error": {"code": "...", "message": "what to fix"}}` with
the matching status; bad input is a 4xx, never a 500.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.api.auth import authenticate_bearer
from apps.core import jsontext


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def validation_message(e: ValidationError) -> str:
    if hasattr(e, "error_dict"):
        parts = []
        for field, errors in e.message_dict.items():
            label = "" if field == "__all__" else f"{field}: "
            parts.extend(label + m for m in errors)
        return " ".join(parts)
    return " ".join(e.messages)


def api_view(methods: list[str], *, auth: bool = True) -> Callable:
    """CSRF-exempt (the token is in a header, not a cookie), method check,
    bearer authentication (TokenAuthenticationMiddleware's, read back), and
    errors turned into JSON.

    The view gets `request.user` set to the token's user."""

    def decorator(view: Callable[..., Any]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = error_response(
                    405,
                    "MethodNotAllowed",
                    f"{request.method} is not supported here; use {', '.join(methods)}.",
                )
                response["Allow"] = ", ".join(methods)
                return response
            query = (v for _, values in request.GET.lists() for v in values)
            if "\x00" in request.path or any("\x00" in v for v in query):
                # PostgreSQL cannot store or compare NUL characters.
                return error_response(400, "InvalidRequest", "Remove the NUL characters (%00).")
            if auth:
                # The middleware's answer (apps.api.auth): token only, a
                # session cookie does not open the API; a refused token's
                # reason becomes the 401's message.
                user, refusal = authenticate_bearer(request)
                if user is None:
                    response = error_response(
                        401,
                        "TokenExpired" if refusal else "Unauthorized",
                        refusal
                        or "Send a valid API token as 'Authorization: Bearer <token>' "
                        "(get one with `berth login` or POST /api/token).",
                    )
                    response["WWW-Authenticate"] = 'Bearer realm="berth"'
                    return response
                request.user = user
            try:
                result = view(request, *args, **kwargs)
            except ApiError as e:
                return error_response(e.status, e.code, e.message)
            except ValidationError as e:
                return error_response(422, "ValidationError", validation_message(e))
            except Http404 as e:
                return error_response(404, "NotFound", str(e) or "Not found.")
            if isinstance(result, HttpResponse):
                return result
            return JsonResponse(result, safe=False)

        return wrapper

    return decorator


def json_body(request: HttpRequest) -> Any:
    """The request's JSON body; {} when empty."""
    if not request.body:
        return {}
    content_type = request.content_type or ""
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "Send the body as JSON with Content-Type: application/json.",
        )
    try:
        return jsontext.loads(request.body)
    except jsontext.BadJson as e:
        raise ApiError(400, "InvalidJson", f"{e}.") from e


def json_object(request: HttpRequest) -> dict[str, Any]:
    body = json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidBody", "The body must be a JSON object.")
    return body


def reject_unknown(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            422,
            "UnknownProperty",
            f"Unknown {', '.join(repr(k) for k in unknown)}: the properties accepted here are "
            f"{', '.join(sorted(allowed))}.",
        )


def get_str(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ApiError(422, "MissingProperty", f"Give {key!r} (a string).")
        return None
    if not isinstance(value, str):
        raise ApiError(422, "InvalidProperty", f"{key!r} must be a string.")
    if "\x00" in value:
        raise ApiError(422, "InvalidProperty", f"{key!r} may not contain NUL characters.")
    return value


def get_bool(body: dict[str, Any], key: str, default: bool = False) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(422, "InvalidProperty", f"{key!r} must be true or false.")
    return value


def query_bool(request: HttpRequest, key: str) -> bool:
    value = request.GET.get(key, "false").strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise ApiError(400, "InvalidQuery", f"{key} must be true or false.")
