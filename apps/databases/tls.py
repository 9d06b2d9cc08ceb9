"""Berth's own CA for its database services: it signs each service's
certificate (the service's host name in it), and the app containers trust
it, so clients verify the server as App Service apps verify Azure's.

What an app container gets (apps.databases.connections.container_extras):
the folder TRUST_TARGET mounted read-only, holding berth-ca.crt (named by
PGSSLROOTCERT: libpq's sslmode=require then verifies the server's
certificate against it) and bundle.crt, the host's CA bundle plus Berth's
CA (named by SSL_CERT_FILE: Python's ssl, and so redis-py's rediss://,
trusts the services and still every public site).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from apps.proxy.certs import _load_or_make_key, _write_private, ca_key_usage

CA_VALID_FOR = dt.timedelta(days=3650)
SERVER_VALID_FOR = dt.timedelta(days=825)
RENEW_BEFORE = dt.timedelta(days=30)
TRUST_TARGET = "/etc/berth/trust"


def tls_dir() -> Path:
    path = Path(settings.DATA_DIR) / "services" / "tls"
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _valid(path: Path) -> x509.Certificate | None:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    if cert.not_valid_after_utc - dt.datetime.now(dt.UTC) < RENEW_BEFORE:
        return None
    return cert


def ensure_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Berth's CA (made once, kept in the data folder, key 0600)."""
    folder = tls_dir()
    key = _load_or_make_key(folder / "ca.key")
    cert = _valid(folder / "ca.crt")
    if cert is not None and cert.public_key() == key.public_key():
        return cert, key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Berth database services CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_key_usage(crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(folder / "ca.crt", _pem(cert))
    return cert, key


def server_dir(host: str) -> Path:
    """A folder with server.crt (for `host`, signed by the CA), server.key
    and ca.crt, for a service container to mount; renewed when near expiry."""
    ca_cert, ca_key = ensure_ca()
    folder = tls_dir() / host
    folder.mkdir(exist_ok=True)
    os.chmod(folder, 0o700)
    key = _load_or_make_key(folder / "server.key")
    cert = _valid(folder / "server.crt")
    if (
        cert is not None
        and cert.issuer == ca_cert.subject
        and cert.public_key() == key.public_key()
        and (folder / "ca.crt").read_bytes() == _pem(ca_cert)
    ):
        return folder
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + SERVER_VALID_FOR)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(folder / "server.crt", _pem(cert))
    _write_private(folder / "ca.crt", _pem(ca_cert))
    return folder


def trust_dir() -> Path:
    """The folder app containers mount at TRUST_TARGET: world-readable (the
    app runs as its own user), nothing secret in it."""
    ca_cert, _ = ensure_ca()
    folder = Path(settings.DATA_DIR) / "services" / "trust"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    ca = _pem(ca_cert)
    host_bundle = b""
    if settings.BERTH_BUILD_CA_BUNDLE and Path(settings.BERTH_BUILD_CA_BUNDLE).is_file():
        host_bundle = Path(settings.BERTH_BUILD_CA_BUNDLE).read_bytes().rstrip(b"\n") + b"\n"
    for name, data in (("berth-ca.crt", ca), ("bundle.crt", host_bundle + ca)):
        path = folder / name
        if not path.exists() or path.read_bytes() != data:
            tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        elif path.stat().st_mode & 0o777 != 0o644:
            # `secure_data` (every `make run`, compose's migrate) makes the data
            # folder's files 0600: the apps' users could no longer read the CA.
            os.chmod(path, 0o644)
    return folder


def trust_environment() -> dict[str, str]:
    return {
        "PGSSLROOTCERT": f"{TRUST_TARGET}/berth-ca.crt",
        "SSL_CERT_FILE": f"{TRUST_TARGET}/bundle.crt",
    }
