"""A package that compiles stopped on a development header (or a *-config
tool) the build image does not carry: which package, which Debian package
has the header, and the two ways out (a wheel, or the extra package)."""

from __future__ import annotations

import re

from apps.core import failures
from apps.diagnostics import links
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence, LogLine
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import DEPLOYMENT, detector

# The compiler's words for a missing header: `fatal error: ldap.h: No such file or directory`.
MISSING_HEADER = re.compile(r"fatal error: (?P<header>[\w./+-]+\.h): No such file or directory")
# Build scripts that ask a tool before compiling.
MISSING_TOOL = re.compile(
    r"(?P<tool>pg_config|mysql_config|mariadb_config|xml2-config|xslt-config|krb5-config)"
    r"\b[^\n]*not found|(?P<pkgconfig>pkg-config): (?:command )?not found|"
    r"command '(?P<cc>[\w/.-]*gcc|[\w/.-]*cc)' failed: No such file"
)
MISSING_PKG_CONFIG = re.compile(
    r"Package '?(?P<module>[\w.+-]+)'?,? (?:required by '[^']*', )?(?:was )?not found"
)
# pip names the package whose wheel failed.
FAILED_WHEEL = re.compile(
    r"(?:Failed to build|Building wheel for|Running setup.py install for) (?P<package>[\w.-]+)"
)

# Headers (or their folder) -> the Debian package that has them.
HEADERS = {
    "ldap.h": "libldap2-dev",
    "lber.h": "libldap2-dev",
    "sasl/sasl.h": "libsasl2-dev",
    "krb5.h": "libkrb5-dev",
    "gssapi/gssapi.h": "libkrb5-dev",
    "cairo.h": "libcairo2-dev",
    "gmp.h": "libgmp-dev",
    "yaml.h": "libyaml-dev",
    "sqlite3.h": "libsqlite3-dev",
    "bzlib.h": "libbz2-dev",
    "lzma.h": "liblzma-dev",
    "ncurses.h": "libncurses-dev",
    "curl/curl.h": "libcurl4-openssl-dev",
    "libpq-fe.h": "libpq-dev",
    "mysql.h": "default-libmysqlclient-dev",
    "jpeglib.h": "libjpeg-dev",
    "zlib.h": "zlib1g-dev",
    "ffi.h": "libffi-dev",
    "openssl/": "libssl-dev",
    "libxml/": "libxml2-dev",
    "libxslt/": "libxslt1-dev",
    "Python.h": "python3-dev",
    "png.h": "libpng-dev",
    "tiffio.h": "libtiff-dev",
    "freetype": "libfreetype-dev",
    "ft2build.h": "libfreetype-dev",
    "webp/": "libwebp-dev",
    "hdf5.h": "libhdf5-dev",
    "xmlsec/": "libxmlsec1-dev",
    "magic.h": "libmagic-dev",
    "unixODBC": "unixodbc-dev",
    "sql.h": "unixodbc-dev",
    "sqlext.h": "unixodbc-dev",
    "systemd/": "libsystemd-dev",
    "dbus/": "libdbus-1-dev",
}
TOOLS = {
    "pg_config": "libpq-dev",
    "mysql_config": "default-libmysqlclient-dev",
    "mariadb_config": "libmariadb-dev",
    "xml2-config": "libxml2-dev",
    "xslt-config": "libxslt1-dev",
    "krb5-config": "libkrb5-dev",
    "pkg-config": "pkg-config",
    "gcc": "gcc",
    "cc": "gcc",
}
# Wheels that need no compiler, for the packages people hit this with most.
BINARY = {
    "psycopg2": "psycopg2-binary (or psycopg[binary])",
    "python-ldap": "a pure-Python client such as ldap3",
    "pycairo": "a release with a wheel for this Python",
    "mysqlclient": "PyMySQL",
}


def debian_package(header: str) -> str:
    for key, package in HEADERS.items():
        if header == key or header.startswith(key) or (key.endswith("/") and key in header):
            return package
    return ""


def _missing(lines: tuple[LogLine, ...]) -> tuple[LogLine, str, str] | None:
    """(the line, what is missing, the Debian package), the first one found."""
    for line in lines:
        if m := MISSING_HEADER.search(line.text):
            return line, m["header"], debian_package(m["header"])
        if m := MISSING_PKG_CONFIG.search(line.text):
            return line, f"pkg-config module {m['module']}", ""
        if m := MISSING_TOOL.search(line.text):
            tool = m["tool"] or m["pkgconfig"] or "gcc"
            return line, tool, TOOLS.get(tool.rsplit("/", 1)[-1], "")
    return None


def _package(lines: tuple[LogLine, ...], before: LogLine) -> str:
    """The Python package pip was building when the line came."""
    found = ""
    for line in lines:
        if m := FAILED_WHEEL.search(line.text):
            found = m["package"]
            if "Failed to build" in line.text:
                return found
        if line is before and found:
            return found
    return found


@detector(
    "missing_build_header",
    title="A package could not compile: missing header",
    category=DEPLOYMENT,
    description=(
        "Reads a failed build's output for a development header or *-config tool "
        "the build image does not carry, and names the Debian package that has it."
    ),
)
def check(evidence: Evidence) -> Finding | None:
    latest = evidence.latest
    if latest is None or latest.failure_code != failures.BUILD_FAILED:
        return None
    lines = latest.log
    hit = _missing(lines)
    if hit is None:
        return None
    line, missing, debian = hit
    package = _package(lines, line) or "a package in requirements.txt"
    version = evidence.app.python_version
    where = f"deployment #{latest.id}"
    cause = (
        f"{package} compiles C code and needs {missing}, which the build image "
        f"(berth/python-build:{version}) does not have"
        + (f": it is in the Debian package {debian}." if debian else ".")
    )
    items = (
        Item(
            "deployment",
            f"{latest.failure_code}: exit code {latest.failure_evidence.get('exit_code')}",
            where,
            latest.finished,
        ),
        c.log_item(line),
        *c.log_items(c.grep(lines, r"Failed to build|error: command .* failed"), limit=2),
    )
    wheel = BINARY.get(package.lower(), "a release of it that ships a wheel for this Python")
    extra = debian or "the Debian package that has it"
    steps = (
        Step(
            f"Use a package that needs no compiler instead: {wheel}; then deploy again.",
            links.deployment_center(evidence.app.name),
            "Deployment Center",
        ),
        Step(
            f"Or have Berth's administrator add {extra} to BERTH_BUILD_EXTRA_PACKAGES "
            "(and the library it links to, to BERTH_RUNTIME_EXTRA_PACKAGES), then run "
            f"`manage.py runtime ensure {version}` and deploy again. The build runs as the "
            "app's user, so PRE_BUILD_COMMAND cannot apt-get install it."
        ),
    )
    return Finding(
        Status.CRITICAL,
        cause,
        items,
        steps,
        facts={
            "package": package,
            "missing": missing,
            "debian_package": debian,
            "deployment": str(latest.id),
        },
    )
