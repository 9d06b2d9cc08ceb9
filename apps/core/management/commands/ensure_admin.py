"""Create the first admin if there is none, and say how to log in.

BERTH_ADMIN_USER / BERTH_ADMIN_PASSWORD set the account for scripted set-ups;
otherwise the user is `admin` with a generated password, printed once and
kept (readable only by this user) in the data folder.
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin user if none exists."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        username = settings.BERTH_ADMIN_USER or "admin"
        password = settings.BERTH_ADMIN_PASSWORD
        user = User.objects.filter(username=username).first()
        if user is None and not password and User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin exists already; sign in with your account.")
            return
        password_file = settings.DATA_DIR / "admin_password"
        if user is None:
            if not password:
                password = secrets.token_urlsafe(12)
                fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(password + "\n")
            User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(self.style.SUCCESS(f"Created the admin user {username!r}."))
        elif settings.BERTH_ADMIN_PASSWORD and not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
            self.stdout.write(f"Reset the password of {username!r} from BERTH_ADMIN_PASSWORD.")
        if settings.BERTH_ADMIN_PASSWORD:
            self.stdout.write(f"Sign in as {username!r} with BERTH_ADMIN_PASSWORD.")
        elif password_file.exists():
            self.stdout.write(
                f"Sign in as {username!r}; the password is in {password_file} "
                f"(cat {password_file})."
            )
