"""Shared by tests/test_access_*.py: the six kinds of caller, and what each
may do."""

from __future__ import annotations

from django.contrib.auth.models import User

from apps.access.models import Role, RoleAssignment
from apps.api.models import ApiToken

ROLES = ["anonymous", "nobody", "reader", "contributor", "owner", "staff"]
ALLOWED = {
    "anonymous": set(),
    "nobody": set(),
    "reader": {"read"},
    "contributor": {"read", "read_secrets", "write"},
    "owner": {"read", "read_secrets", "write", "manage_access"},
    "staff": {"read", "read_secrets", "write", "manage_access"},
}
GRANTS = {"reader": Role.READER, "contributor": Role.CONTRIBUTOR, "owner": Role.OWNER}


def make_caller(role: str, app) -> User | None:
    """A user holding `role` on the app (through a direct grant), or None."""
    if role == "anonymous":
        return None
    if role == "staff":
        return User.objects.create_user("staffer", is_staff=True)
    user = User.objects.create_user(f"{role}-user")
    if role in GRANTS:
        RoleAssignment.objects.create(role=GRANTS[role], user=user, app=app)
    return user


def token_for(user: User | None) -> str:
    if user is None:
        return ""
    _, secret = ApiToken.objects.create_for(user, "tests")
    return secret


def expected(role: str, action: str, kind: str, ok: int) -> int:
    """The status a caller gets. `kind` is how the surface refuses:
    page (login redirect, 404 when the app is invisible, 403 when the role
    falls short), api (401 / 404 / 403), kudu (publishing-credential style:
    401 / 401 / 403). The SSH page refuses as the other pages do."""
    if action in ALLOWED[role]:
        return ok
    visible = role not in ("anonymous", "nobody")
    if kind == "page":
        return 302 if role == "anonymous" else 403 if visible else 404
    if kind == "api":
        return 401 if role == "anonymous" else 403 if visible else 404
    if kind == "kudu":
        return 403 if visible else 401
    raise ValueError(kind)
