"""Who may do what to an app. One place answers it for the pages, the API,
git, zip deploy, the log stream and the console.

Actions:
- read: see the app, its pages, setting names, deployments, logs (masked);
- read_secrets: see app setting / connection string values and the
  publishing password;
- write: change settings, deploy, restart, start/stop, open a terminal;
- manage_access: grant and revoke roles, delete the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404

from apps.access.models import RANK, Role, RoleAssignment

READ = "read"
READ_SECRETS = "read_secrets"
WRITE = "write"
MANAGE_ACCESS = "manage_access"
ACTIONS = (READ, READ_SECRETS, WRITE, MANAGE_ACCESS)

ALLOWED = {
    Role.READER: frozenset({READ}),
    Role.CONTRIBUTOR: frozenset({READ, READ_SECRETS, WRITE}),
    Role.OWNER: frozenset(ACTIONS),
}


def _authenticated(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def _principal_q(user) -> Q:
    return Q(user=user) | Q(group__in=user.groups.all())


def role_for(user, app) -> Role | None:
    """The highest role the user holds on the app, or None."""
    if not _authenticated(user):
        return None
    if user.is_staff:
        return Role.OWNER
    if app.owner_id == user.pk:
        return Role.OWNER
    roles = (
        RoleAssignment.objects.filter(_principal_q(user))
        .filter(Q(app=app) | Q(app__isnull=True, resource_group__iexact=app.resource_group))
        .values_list("role", flat=True)
    )
    return max((Role(r) for r in roles), key=RANK.__getitem__, default=None)


def can(user, app, action: str) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"Unknown action {action!r}: use one of {', '.join(ACTIONS)}.")
    role = role_for(user, app)
    return role is not None and action in ALLOWED[role]


@dataclass(frozen=True)
class AppPerms:
    """What templates ask: `{% if app_perms.write %}`."""

    role: Role | None

    def _has(self, action: str) -> bool:
        return self.role is not None and action in ALLOWED[self.role]

    @property
    def read(self) -> bool:
        return self._has(READ)

    @property
    def read_secrets(self) -> bool:
        return self._has(READ_SECRETS)

    @property
    def write(self) -> bool:
        return self._has(WRITE)

    @property
    def manage_access(self) -> bool:
        return self._has(MANAGE_ACCESS)


def perms(user, app) -> AppPerms:
    return AppPerms(role_for(user, app))


def visible_q(user) -> Q | None:
    """A filter on WebApp for the apps a user holds any role on; None = all."""
    if user.is_staff:
        return None
    grants = RoleAssignment.objects.filter(_principal_q(user))
    app_ids = [pk for pk in grants.values_list("app_id", flat=True) if pk is not None]
    groups = {
        rg.lower()
        for rg in grants.filter(app__isnull=True).values_list("resource_group", flat=True)
    }
    # iexact per name: Azure's resource group names are case-insensitive.
    return reduce(
        or_,
        [Q(resource_group__iexact=rg) for rg in sorted(groups)],
        Q(owner=user) | Q(pk__in=app_ids),
    )


# What each action covers, for the message a refused user reads.
ACTION_WORDS = {
    READ: "Seeing the app",
    READ_SECRETS: "Seeing secret values (app settings, connection strings, the publishing password)",
    WRITE: "Changing the app (settings, deployments, start, stop, restart, the SSH console)",
    MANAGE_ACCESS: "Managing access to the app (and deleting it)",
}


def roles_allowed(action: str) -> list[Role]:
    """The roles that allow `action`, lowest first."""
    return sorted((r for r in Role if action in ALLOWED[r]), key=RANK.__getitem__)


def refusal(user, app, action: str, what: str = "") -> str:
    """Why this user may not do `action` on an app they can see, and what
    would let them: "Your role on shop is Reader. Opening an SSH session
    requires the Contributor or Owner role on shop; ..."."""
    role = role_for(user, app)
    held = (
        f"Your role on {app.name} is {role.label}." if role else f"You hold no role on {app.name}."
    )
    needed = " or ".join(r.label for r in roles_allowed(action))
    return (
        f"{held} {what or ACTION_WORDS[action]} requires the {needed} role on {app.name}: "
        f"ask an Owner of {app.name} to grant it (Access control)."
    )


def get_app_or_404(user, name: str, action: str = READ, *, what: str = ""):
    """The app if the user may do `action` on it. 404 when they may not even
    see it (so a name's existence does not leak), 403 when they may see it but
    not do this, with a message saying which role would (`what` names the
    thing refused, e.g. "Opening an SSH session")."""
    from apps.webapps.models import WebApp

    app = WebApp.objects.for_user(user).filter(name=name).first()
    if app is None:
        raise Http404("No such app.")
    if action != READ and not can(user, app, action):
        raise PermissionDenied(refusal(user, app, action, what))
    return app


# --- granting ----------------------------------------------------------------


def assignments_for(app):
    """The grants that apply to the app: on it, and on its resource group."""
    return (
        RoleAssignment.objects.filter(
            Q(app=app) | Q(app__isnull=True, resource_group__iexact=app.resource_group)
        )
        .select_related("user", "group", "app")
        .order_by("app_id", "pk")
    )


def _audit(app, action: str, actor, assignment: RoleAssignment, verb: str) -> None:
    from apps.audit.services import record

    row = {
        "role": assignment.role,
        "principal": f"{assignment.principal_kind.lower()}:{assignment.principal_name}",
        "scope": assignment.scope_name,
    }
    record(
        app=app,
        action=action,
        actor=actor,
        before=row if verb == "Removed" else None,
        after=row if verb == "Added" else None,
        summary=f"{verb} {assignment.role} for {assignment.principal_kind.lower()} "
        f"{assignment.principal_name} on {assignment.scope_name}",
    )


@transaction.atomic
def grant(
    app, *, role: str, user=None, group=None, resource_group: bool = False, actor=None
) -> RoleAssignment:
    """Grant `role` to a user or a group on the app (or its resource group).
    Granting what is already granted is a no-op; errors say what to fix."""
    if role not in Role.values:
        raise ValidationError(f"Choose a role: {', '.join(Role.values)}.")
    if (user is None) == (group is None):
        raise ValidationError("Grant the role to one user or one group.")
    scope = {"app": None, "resource_group": app.resource_group} if resource_group else {"app": app}
    lookup = {"role": role, "user": user, "group": group}
    if resource_group:
        existing = RoleAssignment.objects.filter(
            **lookup, app__isnull=True, resource_group__iexact=app.resource_group
        ).first()
    else:
        existing = RoleAssignment.objects.filter(**lookup, app=app).first()
    if existing is not None:
        return existing
    assignment = RoleAssignment.objects.create(**lookup, **scope, created_by=actor)
    _audit(app, "roleassignment.create", actor, assignment, "Added")
    return assignment


@transaction.atomic
def revoke(app, assignment: RoleAssignment, *, actor=None) -> None:
    _audit(app, "roleassignment.delete", actor, assignment, "Removed")
    assignment.delete()
