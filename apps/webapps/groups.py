"""Resource group names: one spelling, one comparison.

Azure compares resource group names case-insensitively. Berth stores them
in lowercase (`ResourceGroupField` lowercases on save and in every lookup),
so `DEFAULT`, `Default` and `default` are one group wherever a name is
stored or compared: apps, role assignments, filters and the API's -g.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

# Azure's rule for resource group names (ASCII letters and digits).
RESOURCE_GROUP_RE = re.compile(r"^[-\w.()]{0,89}[-\w()]$", re.ASCII)
RESOURCE_GROUP_RULE = (
    "A resource group name is 1-90 letters, digits, '-', '_', '.', '(' or ')', "
    "and may not end with '.'."
)

# The group an app lands in when none is named (`berth webapp up` without -g).
# Any signed-in user may create apps in it, and nobody owns it by doing so:
# see apps.access.services.create_right.
DEFAULT_GROUP = "default"


def canonical(name: str) -> str:
    """The stored spelling of a resource group name."""
    return name.strip().lower()


def validate_resource_group(value: str) -> None:
    if not RESOURCE_GROUP_RE.match(value):
        raise ValidationError(f"{RESOURCE_GROUP_RULE} {value!r} is not.", code="resource_group")


class ResourceGroupField(models.CharField):
    """A resource group name, stored and compared in lowercase."""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if isinstance(value, str):
            value = canonical(value)
            setattr(model_instance, self.attname, value)
        return value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return canonical(value) if isinstance(value, str) else value
