"""Resource group names are stored in lowercase (apps.webapps.groups): they
were compared case-insensitively in some places and exactly in others."""

from django.db import migrations
from django.db.models.functions import Lower

import apps.webapps.groups


def lowercase(apps, schema_editor):
    WebApp = apps.get_model("webapps", "WebApp")
    WebApp.objects.update(resource_group=Lower("resource_group"))


class Migration(migrations.Migration):
    dependencies = [
        ("webapps", "0003_webapp_https_only"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webapp",
            name="resource_group",
            field=apps.webapps.groups.ResourceGroupField(
                default="default",
                max_length=90,
                validators=[apps.webapps.groups.validate_resource_group],
            ),
        ),
        migrations.RunPython(lowercase, migrations.RunPython.noop),
    ]
