from __future__ import annotations

from django.db import migrations, models


def fill_deployed_by(apps, schema_editor) -> None:
    """Earlier deployments: the user, where one is known. Those made with
    deployment credentials (no user) stay blank: who it was is not known."""
    Deployment = apps.get_model("deployments", "Deployment")
    for d in Deployment.objects.exclude(deployer=None).select_related("deployer"):
        Deployment.objects.filter(pk=d.pk).update(deployed_by=d.deployer.username)


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0005_precheck"),
    ]

    operations = [
        migrations.AddField(
            model_name="deployment",
            name="deployed_by",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.RunPython(fill_deployed_by, migrations.RunPython.noop),
    ]
