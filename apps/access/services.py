"""Who may do what to an app. One place answers it for the pages, the API,
git, zip deploy, the log stream and the console.

Actions:
- read: see the app, its pages, setting names, deployments, logs (masked);
- read_secrets: see app setting / connection string values and the
  publishing password;
- write: change settings, deploy, restart, start/stop, open a terminal;
- manage_access: grant and revoke roles, delete the app.

Resource groups: a role granted on a group applies to every app in it.
Granting or revoking a group-wide role needs Owner on the group (a
group-wide Owner grant) or staff; creating an app in a group needs
Contributor or Owner there, except in a brand-new group (its creator becomes
its Owner) and in the shared `default` group (see `create_right`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest

from apps.access.models import RANK, Role, RoleAssignment, principal_q
from apps.audit.models import AuditEvent
from apps.audit.services import record

# Up to the app model, as apps.access.models explains: the resolver finds apps.
from apps.webapps.groups import DEFAULT_GROUP, canonical
from apps.webapps.models import WebApp

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


def _highest(roles: Iterable[str]) -> Role | None:
    return max((Role(r) for r in roles), key=RANK.__getitem__, default=None)


def role_for(user, app) -> Role | None:
    """The highest role the user holds on the app, or None. Creating the app
    gives none by itself: its creator holds an ordinary Owner grant."""
    if not _authenticated(user):
        return None
    if user.is_staff:
        return Role.OWNER
    roles = (
        RoleAssignment.objects.filter(principal_q(user))
        .filter(Q(app=app) | Q(app__isnull=True, resource_group=app.resource_group))
        .values_list("role", flat=True)
    )
    return _highest(roles)


def group_role(user, resource_group: str) -> Role | None:
    """The highest role the user holds on a resource group itself (grants
    with the group as their scope), or None. A role on one app in the group
    is not a role on the group."""
    if not _authenticated(user):
        return None
    if user.is_staff:
        return Role.OWNER
    roles = (
        RoleAssignment.objects.filter(principal_q(user))
        .filter(app__isnull=True, resource_group=canonical(resource_group))
        .values_list("role", flat=True)
    )
    return _highest(roles)


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


class Refused(PermissionDenied):
    """403: the caller may see `app` but not do this; the message says which
    role would. Carries the app, for a page that shows the refusal on it."""

    def __init__(self, app: WebApp, message: str) -> None:
        super().__init__(message)
        self.app = app
        self.message = message


@dataclass(frozen=True)
class PublishingCredential:
    """An app's publishing credentials (Kudu's deployment credentials, `$app`
    and a password over HTTP basic): a principal for that one app, which may
    read it and deploy to it (git, zip deploy) and nothing else."""

    username: str
    password: str = field(repr=False)

    @classmethod
    def from_request(cls, request: HttpRequest) -> PublishingCredential | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return cls(username, password)

    def opens(self, app: WebApp) -> bool:
        # Kudu accepts "$app" and "app\$app" for the same user.
        username = self.username.rpartition("\\")[2]
        ok_user = hmac.compare_digest(username.encode(), app.publishing_username.encode())
        ok_password = hmac.compare_digest(self.password.encode(), app.publishing_password.encode())
        return ok_user and ok_password


PUBLISHING_ACTIONS = frozenset({READ, WRITE})


# Who asks: a user (signed in or not), nobody, or an app's publishing credentials.
Caller = AbstractBaseUser | AnonymousUser | PublishingCredential | None


def app_for(
    caller: Caller, name: str, action: str = READ, *, what: str = "", resource_group: str = ""
) -> WebApp:
    """The app called `name` if `caller` may do `action` on it: the one
    lookup every surface makes (pages, API, git, zip deploy, log stream,
    console, diagnostics). `caller` is a user (`request.user`: the session's,
    or the API token's, set once by apps.api.auth's middleware), None, or a
    PublishingCredential.

    Http404 when the caller may not even see it (so a name's existence does
    not leak), Refused (a PermissionDenied, 403) when they may see it but not
    do this, with a message saying which role would (`what` names the thing
    refused, e.g. "Opening an SSH session"). `resource_group` narrows the
    lookup as `az webapp -g` does."""
    if isinstance(caller, PublishingCredential):
        app = WebApp.objects.filter(name=name).first()
        if app is None or not caller.opens(app) or action not in PUBLISHING_ACTIONS:
            raise Http404("No such app.")
        return app
    if caller is None:
        raise Http404("No such app.")
    app = WebApp.objects.for_user(caller).filter(name=name).first()
    if app is None or (resource_group and canonical(resource_group) != app.resource_group):
        raise Http404("No such app.")
    if action != READ and not can(caller, app, action):
        raise Refused(app, refusal(caller, app, action, what))
    return app


# --- creating apps in a group -----------------------------------------------------


class CreateRight(StrEnum):
    """Why a user may create an app in a resource group."""

    STAFF = "staff"
    GROUP_ROLE = "group_role"  # Contributor or Owner on the group
    DEFAULT_GROUP = "default_group"  # the shared group every user may create in
    NEW_GROUP = "new_group"  # nothing uses the name yet: the creator becomes its Owner


def group_exists(resource_group: str) -> bool:
    """A group exists while an app is in it or a grant names it."""
    name = canonical(resource_group)
    return (
        WebApp.objects.filter(resource_group=name).exists()
        or RoleAssignment.objects.filter(app__isnull=True, resource_group=name).exists()
    )


def create_right(user, resource_group: str) -> CreateRight:
    """May `user` create an app in `resource_group`? As Azure has it:
    creating a resource group makes you its Owner, and creating an app in an
    existing group needs Contributor or Owner on the group. `default` is
    shared: anyone signed in may create apps in it and nobody owns it by
    doing so (only staff grant roles on it). Raises PermissionDenied saying
    what would allow it."""
    name = canonical(resource_group)
    if not _authenticated(user):
        raise PermissionDenied("Sign in to create an app.")
    if user.is_staff:
        return CreateRight.STAFF
    if group_role(user, name) in (Role.CONTRIBUTOR, Role.OWNER):
        return CreateRight.GROUP_ROLE
    if name == DEFAULT_GROUP:
        return CreateRight.DEFAULT_GROUP
    if not group_exists(name):
        return CreateRight.NEW_GROUP
    raise PermissionDenied(
        f"Creating an app in resource group {name} requires the Contributor or Owner role "
        f"on the resource group: ask one of its Owners to grant it (Access control, scope "
        f"resource group), or choose another resource group ({DEFAULT_GROUP}, or a new name)."
    )


def grant_creator(app: WebApp, right: CreateRight, *, actor=None) -> None:
    """After `create_right` allowed it and the app is saved (which gave its
    creator an Owner grant on the app): record that grant, and make the
    creator of a new group its Owner."""
    assignment = RoleAssignment.objects.filter(
        role=Role.OWNER, user_id=app.owner_id, app=app
    ).first()
    if assignment is not None:
        _audit(assignment, app, AuditEvent.Action.ROLE_CREATE, actor)
    if right == CreateRight.NEW_GROUP:
        _create(
            role=Role.OWNER,
            user=app.owner,
            group=None,
            scope={"app": None, "resource_group": app.resource_group},
            actor=actor,
            app=app,
        )


# --- granting ----------------------------------------------------------------


def assignments_for(app):
    """The grants that apply to the app: on it, and on its resource group."""
    return (
        RoleAssignment.objects.filter(
            Q(app=app) | Q(app__isnull=True, resource_group=app.resource_group)
        )
        .select_related("user", "group", "app")
        .order_by("app_id", "pk")
    )


def may_change(user, app, assignment: RoleAssignment) -> bool:
    """May `user` add or remove this assignment? One on the app needs Owner
    on the app; one on its resource group needs Owner on the group (or
    staff): a grant never reaches further than its granter's own rights."""
    if assignment.app_id is not None:
        return can(user, app, MANAGE_ACCESS)
    return group_role(user, assignment.resource_group) == Role.OWNER


def _refuse_change(user, app, assignment: RoleAssignment, verb: str) -> PermissionDenied:
    if assignment.app_id is not None:
        return PermissionDenied(refusal(user, app, MANAGE_ACCESS))
    group = assignment.resource_group
    held = group_role(user, group)
    return PermissionDenied(
        f"{verb} a role on resource group {group} (every app in it) requires the Owner role "
        f"on the resource group; "
        + (
            f"yours is {held.label}. "
            if held
            else "you hold none (a role on one app is not one on its group). "
        )
        + f"Grant it on this app only, or ask an Owner of {group} or a staff user."
    )


def reached_apps(assignment: RoleAssignment) -> list[WebApp]:
    """The apps an assignment gives its role on."""
    if assignment.app_id is not None:
        return [assignment.app]
    return list(WebApp.objects.filter(resource_group=assignment.resource_group))


def _audit(assignment: RoleAssignment, app: WebApp | None, action: str, actor) -> None:
    """One event in the Activity log of every app the assignment reaches
    (and of `app`, the app it was changed from, if it reaches none)."""
    row = {
        "role": assignment.role,
        "principal": f"{assignment.principal_kind.lower()}:{assignment.principal_name}",
        "scope": assignment.scope_name,
    }
    removed = action == AuditEvent.Action.ROLE_DELETE
    verb = "Removed" if removed else "Added"
    targets = reached_apps(assignment) or ([app] if app is not None else [])
    for target in targets:
        record(
            app=target,
            action=action,
            actor=actor,
            before=row if removed else None,
            after=None if removed else row,
            summary=f"{verb} {assignment.role} for {assignment.principal_kind.lower()} "
            f"{assignment.principal_name} on {assignment.scope_name}",
        )


def _create(*, role: str, user, group, scope: dict, actor, app: WebApp) -> RoleAssignment:
    lookup = {"role": role, "user": user, "group": group, **scope}
    existing = RoleAssignment.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    assignment = RoleAssignment.objects.create(**lookup, created_by=actor)
    _audit(assignment, app, AuditEvent.Action.ROLE_CREATE, actor)
    return assignment


@transaction.atomic
def grant(
    app, *, role: str, user=None, group=None, resource_group: bool = False, actor
) -> RoleAssignment:
    """Grant `role` to a user or a group on the app (or its resource group),
    as `actor`, who must be allowed to (`may_change`). Granting what is
    already granted is a no-op; errors say what to fix."""
    if role not in Role.values:
        raise ValidationError(f"Choose a role: {', '.join(Role.values)}.")
    if (user is None) == (group is None):
        raise ValidationError("Grant the role to one user or one group.")
    scope = {"app": None, "resource_group": app.resource_group} if resource_group else {"app": app}
    proposed = RoleAssignment(role=role, **scope)
    if not may_change(actor, app, proposed):
        raise _refuse_change(actor, app, proposed, "Granting")
    return _create(role=role, user=user, group=group, scope=scope, actor=actor, app=app)


@transaction.atomic
def revoke(app, assignment: RoleAssignment, *, actor) -> None:
    """Remove an assignment, as `actor`, who must be allowed to. Any one may
    go, the creator's and the last Owner's too, as in App Service: staff
    keep access to every app and can grant it again."""
    if not may_change(actor, app, assignment):
        raise _refuse_change(actor, app, assignment, "Removing")
    _audit(assignment, app, AuditEvent.Action.ROLE_DELETE, actor)
    assignment.delete()
