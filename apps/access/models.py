"""Role assignments, as App Service's Access control (IAM) has them: a role
(Owner, Contributor, Reader) granted to a user or a group, on one app or on
every app of a resource group."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q

# Runs up on purpose (one of the two imports that do): access and webapps
# are one layer, configuration, kept in two Django apps for their tables.
# apps.webapps.models asks this module who may see an app; roles are
# granted on a resource group, whose field is apps.webapps.groups' (a
# module that imports nothing of either app, so no circle).
from apps.webapps.groups import ResourceGroupField


class Role(models.TextChoices):
    OWNER = "Owner"
    CONTRIBUTOR = "Contributor"
    READER = "Reader"


# Higher wins when a user holds several roles (directly, through a group, or
# through the app's resource group).
RANK = {Role.READER: 1, Role.CONTRIBUTOR: 2, Role.OWNER: 3}

DESCRIPTIONS = {
    Role.OWNER: "Everything, including granting access and deleting the app.",
    Role.CONTRIBUTOR: "Deploy, change settings, restart, open the SSH console, see secret values.",
    Role.READER: "See the app, its settings' names, deployments and logs; no secret values, no changes.",
}


class RoleAssignment(models.Model):
    role = models.CharField(max_length=16, choices=Role.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="role_assignments"
    )
    app = models.ForeignKey(
        "webapps.WebApp",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    # Stored in lowercase (apps.webapps.groups), as every group name is.
    resource_group = ResourceGroupField(max_length=90, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ("pk",)
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True)
                | Q(user__isnull=True, group__isnull=False),
                name="roleassignment_one_principal",
            ),
            models.CheckConstraint(
                condition=Q(app__isnull=False, resource_group="")
                | Q(app__isnull=True) & ~Q(resource_group=""),
                name="roleassignment_one_scope",
            ),
        ]
        indexes = [models.Index(fields=("resource_group",), name="roleassignment_rg")]

    def __str__(self) -> str:
        return f"{self.role} for {self.principal_name} on {self.scope_name}"

    @property
    def principal_kind(self) -> str:
        return "User" if self.user_id else "Group"

    @property
    def principal_name(self) -> str:
        return self.user.get_username() if self.user_id else self.group.name

    @property
    def scope_name(self) -> str:
        if self.app_id:
            return f"app {self.app.name}"
        return f"resource group {self.resource_group}"


# Who holds a grant, and which apps those grants reach: filters only, so
# apps.webapps.models can use them without importing apps.access.services
# (which imports WebApp).


def principal_q(user) -> Q:
    """Grants held by the user, directly or through one of their groups."""
    return Q(user=user) | Q(group__in=user.groups.all())


def visible_q(user) -> Q | None:
    """A filter on WebApp for the apps a user holds any role on; None = all."""
    if user.is_staff:
        return None
    grants = RoleAssignment.objects.filter(principal_q(user))
    return Q(pk__in=grants.filter(app__isnull=False).values("app_id")) | Q(
        resource_group__in=grants.filter(app__isnull=True).values("resource_group")
    )
