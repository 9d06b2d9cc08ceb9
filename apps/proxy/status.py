"""What the proxy is doing, and the address an app answers at."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from apps.proxy import config, files, process, store
from apps.proxy.errors import ProxyError


@dataclass(frozen=True)
class ProxyStatus:
    mode: str
    running: bool
    pid: int | None
    http_port: int
    https_port: int
    listen: str
    domain: str
    routes: dict[str, str] = field(default_factory=dict)
    config: str = ""
    certificate: str = ""
    message: str = ""

    @property
    def url(self) -> str:
        return app_url("<app>")


def app_url(app_name: str, https: bool = False) -> str:
    """The address of an app through the proxy, as a browser would type it."""
    if https:
        port, scheme, default = int(settings.BERTH_PROXY_HTTPS_PORT), "https", 443
    else:
        port, scheme, default = int(settings.BERTH_PROXY_HTTP_PORT), "http", 80
    suffix = "" if port == default else f":{port}"
    return f"{scheme}://{app_name}.{config.apps_domain()}{suffix}/"


def status() -> ProxyStatus:
    """What the proxy is doing, for the portal and `manage.py proxy status`. Never raises."""
    lay = files.layout()
    try:
        mode, domain = config.proxy_mode(), config.apps_domain()
    except ProxyError as e:
        mode, domain, message = "?", str(settings.BERTH_APPS_DOMAIN), e.message
    else:
        message = ""
    pid = process.master_pid() if mode == "managed" else None
    running = pid is not None
    if mode == "external":
        current = lay.conf.read_text() if lay.conf.exists() else ""
        running = bool(current) and process.applied_hash() == process.config_hash(current)
        message = message or (
            "The proxy service applied the current config."
            if running
            else "The proxy service has not applied the current config (is it running?)."
        )
    elif not message:
        try:
            process.nginx_binary()
        except ProxyError as e:
            message = e.message
        else:
            message = "running" if running else "stopped"
    cert = settings.BERTH_TLS_CERT or str(lay.tls / "cert.pem")
    return ProxyStatus(
        mode=mode,
        running=running,
        pid=pid,
        http_port=int(settings.BERTH_PROXY_HTTP_PORT),
        https_port=int(settings.BERTH_PROXY_HTTPS_PORT),
        listen=str(settings.BERTH_PROXY_LISTEN),
        domain=domain,
        routes=store.routes(),
        config=str(lay.conf),
        certificate=cert,
        message=message,
    )
