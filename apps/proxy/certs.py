"""The proxy's TLS certificate: the one the settings name, or a self-signed one
Berth makes for the apps domain and keeps in the data folder (key 0600)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.proxy.errors import ProxyError

# Renew the self-signed certificate this long before it expires.
RENEW_BEFORE = dt.timedelta(days=30)
VALID_FOR = dt.timedelta(days=825)  # the longest lifetime browsers accept


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path
    self_signed: bool


def names_for(domain: str, app_names: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The DNS names the self-signed certificate covers.

    The wildcard covers every app where TLS clients allow it, but OpenSSL (and
    so curl and Python) refuses a wildcard over a single label such as
    `*.localhost`; there each routed app is named too, so `--cacert` works.
    (Only there: elsewhere the certificate stays the same across deploys, so a
    browser's exception for it keeps holding.)
    """
    names = [f"*.{domain}", domain]
    if "." not in domain:
        names += [f"{app}.{domain}" for app in sorted(app_names)]
    return list(dict.fromkeys(names))


def ca_key_usage(*, crl_sign: bool = False) -> x509.KeyUsage:
    """What a certificate that signs certificates may do."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically, readable only by this user."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _covers(cert_path: Path, names: list[str]) -> bool:
    """Whether the certificate on disk is still good for these names."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return False
    return set(san.get_values_for_type(x509.DNSName)) >= set(names)


def _load_or_make_key(key_path: Path) -> ec.EllipticCurvePrivateKey:
    if key_path.exists():
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError):
            key = None
        if isinstance(key, ec.EllipticCurvePrivateKey):
            os.chmod(key_path, 0o600)
            return key
    key = ec.generate_private_key(ec.SECP256R1())
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return key


def make_self_signed(
    directory: Path, domain: str, app_names: list[str] | tuple[str, ...] = ()
) -> Certificate:
    """Make (or keep) a self-signed certificate for the apps domain."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    names = names_for(domain, app_names)
    if key_path.exists() and _covers(cert_path, names):
        return Certificate(cert_path, key_path, self_signed=True)

    key = _load_or_make_key(key_path)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Berth (self-signed)"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"*.{domain}"[:64]),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    if domain == "localhost":
        sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        # A self-signed certificate is its own issuer: marking it a CA lets
        # clients trust it with --cacert / cafile= instead of turning checks off.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return Certificate(cert_path, key_path, self_signed=True)


def configured(cert: str, key: str) -> Certificate:
    """The certificate the settings name; say what is wrong if it can't be used."""
    cert_path, key_path = Path(cert), Path(key)
    for what, path, setting in (
        ("certificate", cert_path, "BERTH_TLS_CERT"),
        ("key", key_path, "BERTH_TLS_KEY"),
    ):
        if not path.is_file():
            raise ProxyError(f"The TLS {what} {path} ({setting}) does not exist.")
        if not os.access(path, os.R_OK):
            raise ProxyError(f"The TLS {what} {path} ({setting}) is not readable by this user.")
    try:
        x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError as e:
        raise ProxyError(
            f"{cert_path} (BERTH_TLS_CERT) is not a PEM certificate: {e}. "
            "Give the full chain in PEM, the server's certificate first."
        ) from e
    return Certificate(cert_path, key_path, self_signed=False)
