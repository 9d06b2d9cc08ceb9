from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.access.models import Role


class GrantForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.READER)
    principal_type = forms.ChoiceField(
        label="Assign access to", choices=[("user", "User"), ("group", "Group")], initial="user"
    )
    principal = forms.CharField(label="User name or group name", max_length=150)
    scope = forms.ChoiceField(
        choices=[("app", "This app"), ("resource_group", "Its resource group (every app in it)")],
        initial="app",
        help_text="A role on the resource group needs Owner on the group itself.",
    )

    def clean(self) -> dict:
        data = super().clean()
        name = (data.get("principal") or "").strip()
        kind = data.get("principal_type")
        data["user"] = data["group"] = None
        if not name or kind not in ("user", "group"):
            return data
        if kind == "user":
            user = get_user_model().objects.filter(username=name).first()
            if user is None:
                self.add_error("principal", f"No user is called {name!r}: check the spelling.")
            data["user"] = user
        else:
            group = Group.objects.filter(name=name).first()
            if group is None:
                self.add_error(
                    "principal",
                    f"No group is called {name!r}: create it in the admin (Groups) first.",
                )
            data["group"] = group
        return data
