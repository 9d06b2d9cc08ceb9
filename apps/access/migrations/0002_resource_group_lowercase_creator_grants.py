"""Resource group names in lowercase, and each app's creator as an ordinary
Owner grant: `WebApp.owner` no longer gives a role by itself.

Creating an app in an existing group now needs a role on the group. So that
a user whose group holds only their own apps can go on adding apps to it,
the one creator of every app in a group (other than the shared `default`)
becomes the group's Owner; that reaches no one else's app. Groups shared by
several creators get no Owner: staff grant one.

A group-wide grant made by a user who was not staff, in a group holding
apps that user did not create, is what the probe did (an app's Owner could
grant any role on its whole group): it is removed, and the Activity log of
every app it reached says so. Grants by staff, by the admin site (no
granter recorded) and those reaching only the granter's own apps are kept."""

from django.db import migrations
from django.db.models.functions import Lower

import apps.webapps.groups


def forwards(apps, schema_editor):
    RoleAssignment = apps.get_model("access", "RoleAssignment")
    WebApp = apps.get_model("webapps", "WebApp")
    RoleAssignment.objects.exclude(resource_group="").update(resource_group=Lower("resource_group"))
    held = set(
        RoleAssignment.objects.filter(role="Owner", user__isnull=False, app__isnull=False)
        .values_list("user_id", "app_id")
    )
    RoleAssignment.objects.bulk_create(
        RoleAssignment(role="Owner", user_id=owner_id, app_id=app_id, created_by_id=owner_id)
        for app_id, owner_id in WebApp.objects.values_list("pk", "owner_id")
        if (owner_id, app_id) not in held
    )
    creators: dict[str, set[int]] = {}
    for group, owner_id in WebApp.objects.values_list("resource_group", "owner_id"):
        creators.setdefault(group, set()).add(owner_id)
    owned = set(
        RoleAssignment.objects.filter(role="Owner", user__isnull=False, app__isnull=True)
        .values_list("user_id", "resource_group")
    )
    RoleAssignment.objects.bulk_create(
        RoleAssignment(role="Owner", user_id=owner_id, resource_group=group, created_by_id=owner_id)
        for group, owners in sorted(creators.items())
        if group != "default" and len(owners) == 1
        for owner_id in owners
        if (owner_id, group) not in owned
    )


def remove_escalated_grants(apps, schema_editor):
    RoleAssignment = apps.get_model("access", "RoleAssignment")
    WebApp = apps.get_model("webapps", "WebApp")
    AuditEvent = apps.get_model("audit", "AuditEvent")
    escalated = RoleAssignment.objects.filter(
        app__isnull=True, created_by__isnull=False, created_by__is_staff=False
    ).select_related("user", "group", "created_by")
    for grant in escalated:
        reached = WebApp.objects.filter(resource_group=grant.resource_group)
        if not reached.exclude(owner_id=grant.created_by_id).exists():
            continue
        principal = (
            f"user:{grant.user.username}" if grant.user_id else f"group:{grant.group.name}"
        )
        row = {
            "role": grant.role,
            "principal": principal,
            "scope": f"resource group {grant.resource_group}",
        }
        for app in reached:
            AuditEvent.objects.create(
                app_id=app.pk,
                app_name=app.name,
                action="roleassignment.delete",
                before=row,
                summary=f"Removed {grant.role} for {principal.replace(':', ' ')} on resource "
                f"group {grant.resource_group}: granted by {grant.created_by.username}, who "
                "held no role on the group (security issue 12)",
            )
        grant.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0001_initial"),
        ("webapps", "0004_resource_group_lowercase"),
        ("audit", "0002_more_actions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="roleassignment",
            name="resource_group",
            field=apps.webapps.groups.ResourceGroupField(blank=True, default="", max_length=90),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RunPython(remove_escalated_grants, migrations.RunPython.noop),
    ]
