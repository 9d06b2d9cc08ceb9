from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers


class HtmxVaryMiddleware:
    """Views render a partial for htmx and a whole page otherwise, so caches
    must key on HX-Request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        return response


def csp_header(policy: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([name, *sources]) for name, sources in policy.items())


def csp_update(**directives: list[str]) -> Callable:
    """A view decorator adding sources to SECURE_CSP for that view's pages,
    e.g. `@csp_update(style_src_elem=["'self'", "'unsafe-inline'"])`."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = view(request, *args, **kwargs)
            response.csp_update = {k.replace("_", "-"): v for k, v in directives.items()}  # type: ignore[attr-defined]
            return response

        return wrapper

    return decorator


class ContentSecurityPolicyMiddleware:
    """Content-Security-Policy from SECURE_CSP on every response, as Django
    6.0's middleware of that name does (drop this one when Berth moves to 6.0).
    A few lines rather than django-csp: one fixed policy, no nonces."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            policy = {name: list(sources) for name, sources in settings.SECURE_CSP.items()}
            for name, sources in getattr(response, "csp_update", {}).items():
                policy[name] = [*policy.get(name, []), *sources]
            response["Content-Security-Policy"] = csp_header(policy)
        return response


class SecureCookiesMiddleware:
    """SECURE_COOKIES=auto: the session and CSRF cookies (any cookie) carry
    Secure on responses to HTTPS requests, so a cookie set over HTTPS is never
    sent back over plain HTTP. request.is_secure() trusts X-Forwarded-Proto
    only with BERTH_TRUST_X_FORWARDED_PROTO."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.SECURE_COOKIES == "auto" and request.is_secure():
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response
