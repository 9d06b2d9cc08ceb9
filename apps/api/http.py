"""The API's plumbing, once: JSON errors, bearer authentication, body parsing.

Every error is `{"error": {"code": "...", "message": "what to fix"}}` with
the matching status; bad input is a 4xx, never a 500. django-ninja routes the
calls (apps.api.api); what it would answer in its own shapes (`{"detail":
...}`, an empty 405) is turned into these here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import pydantic
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security.base import AuthBase

from apps.api.auth import authenticate_bearer, bearer_token
from apps.core import jsontext
from apps.core.apierrors import error_response

UNAUTHORIZED = (
    "Send a valid API token as 'Authorization: Bearer <token>' "
    "(get one with `berth login` or POST /api/token)."
)


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def validation_message(e: ValidationError) -> str:
    if hasattr(e, "error_dict"):
        parts = []
        for field, errors in e.message_dict.items():
            label = "" if field == "__all__" else f"{field}: "
            parts.extend(label + m for m in errors)
        return " ".join(parts)
    return " ".join(e.messages)


# --- Authentication ------------------------------------------------------------------


class BearerAuth(AuthBase):
    """`Authorization: Bearer <token>` (the schema's bearerAuth).

    Only a request that carries a token is let in: a session cookie never
    is, since these views take no CSRF token. When a middleware has already
    set request.user from the token (not from the session), that user is
    taken as it is; otherwise the token is checked here."""

    openapi_type = "http"
    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> AbstractBaseUser:
        if not bearer_token(request):
            raise unauthorized()
        user = getattr(request, "user", None)
        if not _set_from_token(request, user):
            user, refusal = authenticate_bearer(request)
            if user is None:
                raise unauthorized(refusal)
            request.user = user
        return user


def _set_from_token(request: HttpRequest, user: Any) -> bool:
    if user is None or not user.is_authenticated:
        return False
    session = getattr(request, "session", None)
    return session is None or session.get(SESSION_KEY) != str(user.pk)


def unauthorized(refusal: str = "") -> ApiError:
    """401, with the reason when the token was refused (expired, revoked)."""
    return ApiError(
        401,
        "TokenExpired" if refusal else "Unauthorized",
        refusal or UNAUTHORIZED,
        headers={"WWW-Authenticate": 'Bearer realm="berth"'},
    )


# --- Errors in our shape -------------------------------------------------------------------


def install_error_handlers(api: NinjaAPI) -> None:
    """ninja's own errors (and the services' exceptions) as Error bodies."""

    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, e: ApiError) -> HttpResponse:
        response = error_response(e.status, e.code, e.message)
        for name, value in e.headers.items():
            response[name] = value
        return response

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, e: ValidationError) -> HttpResponse:
        return error_response(422, "ValidationError", validation_message(e))

    @api.exception_handler(Http404)
    def missing(request: HttpRequest, e: Http404) -> HttpResponse:
        return error_response(404, "NotFound", str(e) or "Not found.")

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, e: AuthenticationError) -> HttpResponse:
        return api_error(request, unauthorized())

    @api.exception_handler(NinjaValidationError)
    def bad_parameter(request: HttpRequest, e: NinjaValidationError) -> HttpResponse:
        # Query and path parameters (bodies are read by `parse` below).
        first = e.errors[0] if e.errors else {}
        where, *rest = first.get("loc", ("query",))
        name = ".".join(str(part) for part in rest) or where
        kind = first.get("type", "")
        if kind.startswith("bool"):
            message = f"{name} must be true or false."
        elif kind.startswith("int"):
            message = f"{name} must be a whole number."
        else:
            message = f"{name}: {first.get('msg', 'not valid')}."
        code = "InvalidQuery" if where == "query" else "InvalidRequest"
        return error_response(400, code, message)


@csrf_exempt  # refused the same whatever the method (CSRF would answer a POST with a page)
def not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """No such path under /api/ (GET /api/openapi.json lists them)."""
    return error_response(404, "NotFound", f"There is no {request.path} in the API: see /api/docs.")


def guard(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Around each of ninja's URL views: refuse NUL characters (PostgreSQL can
    neither store nor compare them) before any lookup, and answer a wrong
    method with an Error body and Allow, as the rest of the API answers."""

    def refuse_nul(request: HttpRequest) -> HttpResponse | None:
        query = (v for _, values in request.GET.lists() for v in values)
        if "\x00" in request.path or any("\x00" in v for v in query):
            return error_response(400, "InvalidRequest", "Remove the NUL characters (%00).")
        return None

    def method_error(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.status_code != 405 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        # ninja lists the methods from a set: sort them, so the answer is stable.
        allowed = ", ".join(sorted(m.strip() for m in response.get("Allow", "").split(",")))
        answer = error_response(
            405,
            "MethodNotAllowed",
            f"{request.method} is not supported here; use {allowed}.",
        )
        answer["Allow"] = allowed
        return answer

    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_guarded(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
            if refused := refuse_nul(request):
                return refused
            return method_error(request, await view(request, *args, **kwargs))

        return async_guarded

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if refused := refuse_nul(request):
            return refused
        return method_error(request, view(request, *args, **kwargs))

    return guarded


# --- Bodies -------------------------------------------------------------------------


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


def reject_unknown(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            422,
            "UnknownProperty",
            f"Unknown {', '.join(repr(k) for k in unknown)}: the properties accepted here are "
            f"{', '.join(sorted(allowed))}.",
        )


S = TypeVar("S", bound=Schema)


def parse(schema: type[S], data: Any) -> S:
    """A JSON object checked against a request schema, with the errors the
    CLI knows: 422 UnknownProperty, MissingProperty or InvalidProperty, each
    naming the property and what it should be."""
    if not isinstance(data, dict):
        raise ApiError(400, "InvalidBody", "The body must be a JSON object.")
    reject_unknown(data, set(schema.model_fields))
    for key, value in data.items():
        if isinstance(value, str) and "\x00" in value:
            raise ApiError(422, "InvalidProperty", f"{key!r} may not contain NUL characters.")
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as e:
        error = e.errors(include_url=False)[0]
        key = str(error["loc"][0]) if error["loc"] else "body"
        if error["type"] == "missing" or (error["type"] == "string_type" and data.get(key) is None):
            raise ApiError(422, "MissingProperty", f"Give {key!r} (a string).") from e
        if error["type"].startswith("bool"):
            raise ApiError(422, "InvalidProperty", f"{key!r} must be true or false.") from e
        if error["type"].startswith("string"):
            raise ApiError(422, "InvalidProperty", f"{key!r} must be a string.") from e
        raise ApiError(422, "InvalidProperty", f"{key!r}: {error['msg']}.") from e


def parse_list(schema: type[S], data: Any, *, shape: str) -> list[S]:
    """A JSON list of objects, each checked as `parse` does."""
    if not isinstance(data, list):
        raise ApiError(400, "InvalidBody", f"The body must be a JSON list of {shape} objects.")
    if not all(isinstance(item, dict) for item in data):
        raise ApiError(400, "InvalidBody", f"Each entry must be {shape}.")
    return [parse(schema, item) for item in data]
