"""Tokens expire and remember the password they were made under (issue 12).

Tokens made before this migration get the same rules: they expire
BERTH_TOKEN_DAYS after they were made, and are bound to the user's current
password."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import migrations, models


def fill(apps, schema_editor) -> None:
    ApiToken = apps.get_model("api", "ApiToken")
    days = timedelta(days=settings.BERTH_TOKEN_DAYS)
    for row in ApiToken.objects.select_related("user"):
        row.expires = row.created + days
        row.password_fingerprint = hashlib.sha256(row.user.password.encode()).hexdigest()
        row.save(update_fields=["expires", "password_fingerprint"])


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="password_fingerprint",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="expires",
            field=models.DateTimeField(),
        ),
    ]
