"""The nginx config, rendered from the routes: names and upstreams checked,
settings refused unless they match what nginx expects, one server block
per app, the certificate that covers them.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.template.loader import render_to_string

from apps.proxy import certs, files
from apps.proxy.errors import ProxyError

# A route's name: an app name (a DNS label). The same rule as
# apps.webapps.validators.APP_NAME_RE, kept here so the proxy knows no app model.
APP_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
# "127.0.0.1:8001", "app-container:8000", "[::1]:8001"
UPSTREAM_RE = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$"
)
DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")
# The only nginx variables the pages may use; any other `$` would be a bug.
PAGE_VARIABLES = ("$berth_no_app",)


# --- checks ------------------------------------------------------------------


def check_name(name: str) -> str:
    if not isinstance(name, str) or not APP_NAME_RE.match(name):
        raise ProxyError(
            f"{name!r} cannot be routed: an app name is lowercase letters, digits and "
            "hyphens (it becomes the host name <name>.<apps domain>)."
        )
    return name


def check_upstream(upstream: str) -> str:
    match = UPSTREAM_RE.match(upstream) if isinstance(upstream, str) else None
    if not match or not 0 < int(match.group(1)) < 65536:
        raise ProxyError(
            f"{upstream!r} is not an upstream the proxy can use: give host:port, "
            "e.g. 127.0.0.1:32768 as published by the app's container."
        )
    return upstream


def apps_domain() -> str:
    domain = str(settings.BERTH_APPS_DOMAIN).strip().lower().rstrip(".")
    if not DOMAIN_RE.match(domain):
        raise ProxyError(
            f"BERTH_APPS_DOMAIN={domain!r} is not a domain name: use e.g. localhost "
            "or apps.example.com."
        )
    return domain


# --- rendering ---------------------------------------------------------------


def _nginx_string(text: str, variables: tuple[str, ...] = ()) -> str:
    """Quote text for nginx, where `$name` would be read as a variable."""
    for dollar in re.finditer(r"\$\w*", text):
        if dollar.group() not in variables:
            raise ValueError(f"{dollar.group()!r} in a proxy page would be an nginx variable")
    text = "\n".join(line.strip() for line in text.strip().splitlines())
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _checked(name: str, value: object, example: str, pattern: str) -> str:
    """A setting that goes into the config as is: refuse anything unexpected."""
    text = str(value).strip()
    if not re.fullmatch(pattern, text):
        raise ProxyError(f"{name}={text!r} is not valid here (expected e.g. {example}).")
    return text


def _listen_address() -> str:
    listen = _checked(
        "BERTH_PROXY_LISTEN", settings.BERTH_PROXY_LISTEN, "127.0.0.1", r"[0-9A-Fa-f.:\[\]]+|\*"
    )
    return f"[{listen}]" if ":" in listen and not listen.startswith("[") else listen


def render_config(
    route_map: dict[str, str], *, cert: certs.Certificate, https_only: frozenset[str] = frozenset()
) -> str:
    """The whole nginx.conf for these routes ({app name: upstream}); the apps
    in `https_only` answer plain HTTP with a 301 to their HTTPS address."""
    lay = files.layout()
    domain = apps_domain()
    https_port = int(settings.BERTH_PROXY_HTTPS_PORT)
    routes = []
    for name, upstream in sorted(route_map.items()):
        check_name(name)
        check_upstream(upstream)
        page = {"name": name, "domain": domain}
        routes.append(
            {
                "name": name,
                "host": f"{name}.{domain}",
                "upstream": upstream,
                "https_only": name in https_only,
                "down_page": _nginx_string(
                    render_to_string(
                        "proxy/app_unavailable.html",
                        {
                            **page,
                            "title": f"{name} is not running",
                            "reason": f"The app {name} did not answer: it is stopped, "
                            "starting, or has crashed.",
                        },
                    )
                ),
                "timeout_page": _nginx_string(
                    render_to_string(
                        "proxy/app_unavailable.html",
                        {
                            **page,
                            "title": f"{name} took too long to answer",
                            "reason": f"The app {name} is running but did not answer in time.",
                        },
                    )
                ),
            }
        )
    return render_to_string(
        "proxy/nginx.conf",
        {
            "prefix": lay.prefix,
            "conf": lay.conf,
            "routes_dir": lay.routes_dir,
            "pid": lay.pid,
            "logs": lay.logs,
            "temp": lay.temp,
            "user": files.worker_user(),
            "worker_processes": _checked(
                "BERTH_PROXY_WORKERS", settings.BERTH_PROXY_WORKERS, "auto", r"auto|[1-9]\d{0,2}"
            ),
            "listen": _listen_address(),
            "http_port": int(settings.BERTH_PROXY_HTTP_PORT),
            "https_port": https_port,
            # What a 301 to HTTPS appends to $host (nothing on 443).
            "https_port_suffix": "" if https_port == 443 else f":{https_port}",
            "client_max_body_size": _checked(
                "BERTH_PROXY_MAX_BODY", settings.BERTH_PROXY_MAX_BODY, "100m", r"\d{1,9}[kKmMgG]?"
            ),
            "cert": cert.cert,
            "key": cert.key,
            # Quoted in the config, where a backslash is nginx's escape: dots as [.]
            "domain_regex": domain.replace(".", "[.]"),
            "no_such_app_page": _nginx_string(
                render_to_string("proxy/no_such_app.html", {"domain": domain}), PAGE_VARIABLES
            ),
            "routes": routes,
        },
    )


def certificate(route_names: list[str] | tuple[str, ...] = ()) -> certs.Certificate:
    """The configured certificate, or the self-signed one (made if needed)."""
    cert, key = settings.BERTH_TLS_CERT, settings.BERTH_TLS_KEY
    if cert or key:
        if not (cert and key):
            raise ProxyError("Set both BERTH_TLS_CERT and BERTH_TLS_KEY, or neither.")
        return certs.configured(cert, key)
    return certs.make_self_signed(files.layout().tls, apps_domain(), route_names)


def proxy_mode() -> str:
    mode = str(settings.BERTH_PROXY_MODE).lower()
    if mode not in ("managed", "external"):
        raise ProxyError(f"BERTH_PROXY_MODE={mode!r}: use managed or external.")
    return mode
