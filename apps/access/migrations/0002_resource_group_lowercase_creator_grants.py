"""Resource group names in lowercase, and each app's creator as an ordinary
Owner grant: `WebApp.owner` no longer gives a role by itself."""

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


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0001_initial"),
        ("webapps", "0004_resource_group_lowercase"),
    ]

    operations = [
        migrations.AlterField(
            model_name="roleassignment",
            name="resource_group",
            field=apps.webapps.groups.ResourceGroupField(blank=True, default="", max_length=90),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
