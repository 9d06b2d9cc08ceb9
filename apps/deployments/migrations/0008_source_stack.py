from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("deployments", "0007_failure_cause")]

    operations = [
        migrations.AlterField(
            model_name="deployment",
            name="source",
            field=models.CharField(
                choices=[
                    ("zip", "Zip deploy"),
                    ("git", "Local Git"),
                    ("rollback", "Redeploy"),
                    ("stack", "Stack change"),
                ],
                default="zip",
                max_length=16,
            ),
        ),
    ]
