from __future__ import annotations

from django import forms

from apps.webapps.models import WebApp


def python_version_choices() -> list[tuple[str, str]]:
    from apps.engine.runtimes import PYTHON_VERSIONS

    return [(f"PYTHON|{v}", f"Python {v}") for v in PYTHON_VERSIONS]


class CreateWebAppForm(forms.ModelForm):
    linux_fx_version = forms.ChoiceField(label="Runtime stack", choices=python_version_choices)

    class Meta:
        model = WebApp
        fields = ("name", "resource_group", "linux_fx_version")
        help_texts = {"name": "Becomes <name>.<apps domain>. Letters, digits and hyphens."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["linux_fx_version"].initial = "PYTHON|3.11"
