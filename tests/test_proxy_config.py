"""The proxy's nginx config and certificate, rendered without running nginx."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography import x509

from apps.proxy import certs, config, nginx
from apps.proxy import routes as proxy_routes
from apps.proxy.errors import ProxyError


@pytest.fixture
def proxy_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_APPS_DOMAIN = "localhost"
    settings.BERTH_PROXY_LISTEN = "127.0.0.1"
    settings.BERTH_PROXY_HTTP_PORT = 8080
    settings.BERTH_PROXY_HTTPS_PORT = 8443
    settings.BERTH_TLS_CERT = ""
    settings.BERTH_TLS_KEY = ""
    settings.BERTH_PROXY_MODE = "managed"
    return settings


def render(route_map: dict[str, str]) -> str:
    return nginx.render_config(route_map, cert=nginx.certificate(list(route_map)))


def server_block(conf: str, name: str) -> str:
    at = conf.index(f"server_name {name};")
    start = conf.rindex("server {", 0, at)
    return conf[start : conf.index("\n    }\n", at)]


def test_it_names_one_server_per_app(proxy_settings):
    conf = render({"myapp": "127.0.0.1:32768", "other": "127.0.0.1:32769"})
    assert "server_name myapp.localhost;" in conf
    assert "server_name other.localhost;" in conf
    assert "proxy_pass http://127.0.0.1:32768;" in server_block(conf, "myapp.localhost")
    assert "proxy_pass http://127.0.0.1:32769;" in server_block(conf, "other.localhost")


def test_it_uses_the_apps_domain(proxy_settings):
    proxy_settings.BERTH_APPS_DOMAIN = "apps.example.com"
    conf = render({"myapp": "127.0.0.1:32768"})
    assert "server_name myapp.apps.example.com;" in conf


def test_it_sets_the_forwarding_headers(proxy_settings):
    conf = render({"myapp": "127.0.0.1:32768"})
    for line in (
        "proxy_set_header Host $http_host;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Host $http_host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_read_timeout 600s;",
        "client_max_body_size 100m;",
    ):
        assert line in conf


def test_it_makes_the_body_limit_configurable(proxy_settings):
    proxy_settings.BERTH_PROXY_MAX_BODY = "1g"
    assert "client_max_body_size 1g;" in render({})


def test_it_listens_for_http_and_https_on_the_configured_ports(proxy_settings):
    proxy_settings.BERTH_PROXY_LISTEN = "0.0.0.0"
    proxy_settings.BERTH_PROXY_HTTP_PORT = 80
    proxy_settings.BERTH_PROXY_HTTPS_PORT = 443
    block = server_block(render({"myapp": "127.0.0.1:32768"}), "myapp.localhost")
    assert "listen 0.0.0.0:80;" in block
    assert "listen 0.0.0.0:443 ssl;" in block


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BERTH_PROXY_MAX_BODY", "1m; include /etc/passwd"),
        ("BERTH_PROXY_WORKERS", "0"),
        ("BERTH_PROXY_LISTEN", "localhost;"),
    ],
)
def test_it_refuses_settings_that_would_break_the_config(proxy_settings, name, value):
    setattr(proxy_settings, name, value)
    with pytest.raises(ProxyError, match=name):
        render({})


def test_it_brackets_an_ipv6_listen_address(proxy_settings):
    proxy_settings.BERTH_PROXY_LISTEN = "::1"
    assert "listen [::1]:8080 default_server;" in render({})


def test_it_terminates_tls_with_the_generated_certificate(proxy_settings, tmp_path):
    conf = render({"myapp": "127.0.0.1:32768"})
    assert f"ssl_certificate {tmp_path}/proxy/tls/cert.pem;" in conf
    assert f"ssl_certificate_key {tmp_path}/proxy/tls/key.pem;" in conf
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf


def test_it_terminates_tls_with_a_configured_certificate(proxy_settings, tmp_path):
    made = certs.make_self_signed(tmp_path / "mine", "example.org")
    proxy_settings.BERTH_TLS_CERT = str(made.cert)
    proxy_settings.BERTH_TLS_KEY = str(made.key)
    conf = render({})
    assert f"ssl_certificate {made.cert};" in conf
    assert not (tmp_path / "proxy" / "tls").exists()


def test_it_says_when_the_configured_certificate_is_missing(proxy_settings, tmp_path):
    proxy_settings.BERTH_TLS_CERT = str(tmp_path / "nope.pem")
    proxy_settings.BERTH_TLS_KEY = str(tmp_path / "nope.key")
    with pytest.raises(ProxyError, match="BERTH_TLS_CERT.*does not exist"):
        render({})


def test_it_answers_unknown_hosts_from_a_default_server(proxy_settings):
    conf = render({"myapp": "127.0.0.1:32768"})
    assert "listen 127.0.0.1:8080 default_server;" in conf
    assert "listen 127.0.0.1:8443 ssl default_server;" in conf
    default = conf[conf.index("server_name _;") :]
    assert "return 404 '<!doctype html>" in default
    assert "$berth_no_app" in default
    assert '"No app named $berth_label here"' in conf


def test_it_serves_a_friendly_page_when_the_app_is_down(proxy_settings):
    block = render({"myapp": "127.0.0.1:32768"})
    block = block[block.index("server_name myapp.localhost;") :]
    assert "error_page 502 503 @berth_down;" in block
    assert "return 502 '<!doctype html>" in block
    assert "myapp is not running" in block
    assert "return 504 '<!doctype html>" in block


def test_it_keeps_everything_under_the_prefix(proxy_settings, tmp_path):
    conf = render({})
    assert f"pid {tmp_path}/proxy/nginx.pid;" in conf
    assert f"error_log {tmp_path}/proxy/logs/error.log" in conf
    assert f"proxy_temp_path {tmp_path}/proxy/temp/proxy;" in conf
    assert "/var/" not in conf


@pytest.mark.parametrize("name", ["MyApp", "a b", "x;", "-x", "../x", "x.y", ""])
def test_it_refuses_names_that_are_not_app_names(proxy_settings, name):
    with pytest.raises(ProxyError, match="cannot be routed"):
        render({name: "127.0.0.1:32768"})


@pytest.mark.parametrize(
    "upstream",
    ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:80; }", "http://x:80", "a b:80"],
)
def test_it_refuses_upstreams_that_are_not_host_and_port(proxy_settings, upstream):
    with pytest.raises(ProxyError, match="host:port"):
        render({"myapp": upstream})


def test_it_accepts_container_names_and_ipv6_upstreams(proxy_settings):
    conf = render({"a1": "berth-app-1:8000", "a2": "[::1]:32768"})
    assert "proxy_pass http://berth-app-1:8000;" in conf
    assert "proxy_pass http://[::1]:32768;" in conf


def test_it_quotes_pages_for_nginx():
    assert config._nginx_string("it's a \\ test") == "'it\\'s a \\\\ test'"
    with pytest.raises(ValueError):
        config._nginx_string("costs $5")


def test_it_makes_a_self_signed_certificate_kept_private(proxy_settings, tmp_path):
    made = certs.make_self_signed(tmp_path / "tls", "apps.example.com", ["myapp"])
    assert stat.S_IMODE(os.stat(made.key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(made.cert).st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(made.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    # A wildcard works under a real domain: the certificate need not change per app.
    assert san.get_values_for_type(x509.DNSName) == ["*.apps.example.com", "apps.example.com"]


def test_it_names_each_app_under_a_single_label_domain(proxy_settings, tmp_path):
    made = certs.make_self_signed(tmp_path / "tls", "localhost", ["myapp"])
    cert = x509.load_pem_x509_certificate(made.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {
        "*.localhost",
        "localhost",
        "myapp.localhost",
    }


def test_it_keeps_the_certificate_while_it_covers_the_names(proxy_settings, tmp_path):
    first = certs.make_self_signed(tmp_path / "tls", "localhost", ["a1"])
    before = first.cert.read_bytes()
    certs.make_self_signed(tmp_path / "tls", "localhost", ["a1"])
    assert first.cert.read_bytes() == before
    key = first.key.read_bytes()
    certs.make_self_signed(tmp_path / "tls", "localhost", ["a1", "a2"])
    assert first.cert.read_bytes() != before
    assert first.key.read_bytes() == key  # same key, new names


def test_it_gives_the_app_url(proxy_settings):
    assert nginx.app_url("myapp") == "http://myapp.localhost:8080/"
    assert nginx.app_url("myapp", https=True) == "https://myapp.localhost:8443/"
    proxy_settings.BERTH_PROXY_HTTPS_PORT = 443
    assert nginx.app_url("myapp", https=True) == "https://myapp.localhost/"


def test_an_https_only_app_gets_a_301_on_plain_http(proxy_settings):
    routes = {"secure": "127.0.0.1:8001", "plain": "127.0.0.1:8002"}
    conf = nginx.render_config(
        routes, cert=nginx.certificate(list(routes)), https_only=frozenset({"secure"})
    )
    redirect, served = conf.split("server_name secure.localhost;")[1:3]
    assert "return 301 https://$host:8443$request_uri;" in redirect.split("server {")[0]
    # The HTTPS server of the app no longer listens on the HTTP port.
    https_server = conf[: conf.index("server_name secure.localhost;", conf.index("return 301"))]
    https_server = https_server[https_server.rindex("server {") :]
    assert "8443 ssl" in https_server and ":8080" not in https_server
    assert "proxy_pass http://127.0.0.1:8001;" in served
    plain = server_block(conf, "plain.localhost")
    assert ":8080;" in plain and "return 301" not in plain


def test_the_redirect_drops_the_port_on_443(proxy_settings):
    proxy_settings.BERTH_PROXY_HTTPS_PORT = 443
    routes = {"secure": "127.0.0.1:8001"}
    conf = nginx.render_config(
        routes, cert=nginx.certificate(list(routes)), https_only=frozenset({"secure"})
    )
    assert "return 301 https://$host$request_uri;" in conf


def test_https_only_choices_are_kept_apart_from_routes(proxy_settings, monkeypatch):
    applied = []
    monkeypatch.setattr(proxy_routes, "_apply", lambda routes, **kw: applied.append(routes))
    nginx.set_https_only("secure", True)
    nginx.set_https_only("secure", True)  # no change, nothing applied
    assert nginx.https_only_apps() == {"secure"}
    assert len(applied) == 1
    assert nginx.routes() == {}  # the file is not mistaken for a route
    nginx.set_https_only("secure", False)
    assert nginx.https_only_apps() == set()
    with pytest.raises(ProxyError):
        nginx.set_https_only("Not An App!", True)


def test_a_refused_https_only_change_is_put_back(proxy_settings, monkeypatch):
    def refuse(routes, **kw):
        raise ProxyError("nginx said no")

    monkeypatch.setattr(proxy_routes, "_apply", refuse)
    with pytest.raises(ProxyError):
        nginx.set_https_only("secure", True)
    assert nginx.https_only_apps() == set()
