"""The missing-header detector on hand-made evidence, and the build image's
recipe (what it installs, how its revision follows the runtime's)."""

from __future__ import annotations

import pytest

from apps.diagnostics import registry
from apps.diagnostics.findings import Status
from apps.engine import build_image, recipe
from tests.diagnostics_helpers import evidence

LDAP_LOG = """\
[berth-build] Step 1/1: pip install -r requirements.txt
Collecting python-ldap
Building wheels for collected packages: python-ldap
  Building wheel for python-ldap (pyproject.toml): started
      In file included from Modules/LDAPObject.c:3:
      Modules/common.h:15:10: fatal error: lber.h: No such file or directory
         15 | #include <lber.h>
      error: command '/usr/bin/gcc' failed with exit code 1
  Building wheel for python-ldap (pyproject.toml): finished with status 'error'
Failed to build python-ldap
[berth-build] ERROR: pip install -r requirements.txt failed with exit code 1
"""


def check(log: str, **kwargs):
    d = registry.get("missing_build_header")
    assert d is not None
    fields = {
        "status": "failed",
        "failure_code": "build_failed",
        "failure_evidence": {"exit_code": 1},
    }
    return d.check(evidence(build_log=log, **{**fields, **kwargs}))


def test_it_names_the_package_the_header_and_the_debian_package():
    f = check(LDAP_LOG)
    assert f.status == Status.CRITICAL
    assert f.facts == {
        "package": "python-ldap",
        "missing": "lber.h",
        "debian_package": "libldap2-dev",
        "deployment": "1",
    }
    assert "python-ldap compiles C code and needs lber.h" in f.cause
    fix = "\n".join(s.text for s in f.steps)
    assert "ldap3" in fix and "BERTH_BUILD_EXTRA_PACKAGES" in fix
    assert "manage.py runtime ensure 3.11" in fix
    assert any("fatal error: lber.h" in i.text for i in f.evidence)


@pytest.mark.parametrize(
    ("line", "missing", "debian"),
    [
        ("Error: pg_config executable not found.", "pg_config", "libpq-dev"),
        ("/bin/sh: 1: mysql_config: not found", "mysql_config", "default-libmysqlclient-dev"),
        (
            "  src/x.c:1:10: fatal error: libxml/xpath.h: No such file or directory",
            "libxml/xpath.h",
            "libxml2-dev",
        ),
        ("Package 'cairo', required by 'virtual:world', not found", "pkg-config module cairo", ""),
        ("error: command 'gcc' failed: No such file or directory", "gcc", "gcc"),
    ],
)
def test_it_reads_the_ways_a_compile_says_what_is_missing(line, missing, debian):
    f = check(
        f"Building wheel for thing (pyproject.toml): started\n{line}\nFailed to build thing\n"
    )
    assert (f.facts["missing"], f.facts["debian_package"], f.facts["package"]) == (
        missing,
        debian,
        "thing",
    )


def test_it_stays_quiet_unless_the_build_failed():
    assert check(LDAP_LOG, failure_code="start_timeout") is None
    assert check(LDAP_LOG, status="success", failure_code="") is None
    assert check("ERROR: No matching distribution found for flsk\n") is None


def test_the_build_image_adds_the_tools_and_follows_the_runtime_recipe(settings, monkeypatch):
    debian = build_image.packages("debootstrap")
    for needed in (
        "gcc",
        "pkg-config",
        "libpq-dev",
        "default-libmysqlclient-dev",
        "libjpeg-dev",
        "zlib1g-dev",
        "libffi-dev",
        "libssl-dev",
        "libxml2-dev",
        "libxslt1-dev",
        "nodejs",
        "npm",
        "python3-dev",
    ):
        assert needed in debian
    # A pulled python:3.X image has its own headers: Debian's would be another Python's.
    assert "python3-dev" not in build_image.packages("pull")
    # Node.js and the compiler are for the build only; the runtime gets the libraries.
    assert not {"nodejs", "npm", "gcc"} & set(recipe.debian_packages())
    assert {"libpq5", "libmariadb3", "libjpeg62-turbo", "libxslt1.1"} <= set(
        recipe.debian_packages()
    )
    before = build_image.build_revision("debootstrap")
    settings.BERTH_BUILD_EXTRA_PACKAGES = ["libldap2-dev"]
    assert "libldap2-dev" in build_image.packages("pull")
    assert build_image.build_revision("debootstrap") != before
    settings.BERTH_BUILD_EXTRA_PACKAGES = []
    settings.BERTH_RUNTIME_EXTRA_PACKAGES = ["libldap-2.5-0"]
    assert "libldap-2.5-0" in recipe.debian_packages()
    assert build_image.build_revision("debootstrap") != before  # a new runtime, a new build image
    assert build_image.build_tag("3.12") == "berth/python-build:3.12"
    text = build_image.dockerfile("3.12", "pull")
    assert text.startswith("FROM berth/python:3.12\n") and "chmod 1777 /tmp" in text
