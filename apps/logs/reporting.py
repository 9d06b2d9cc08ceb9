"""Error reports without secrets.

With DEBUG off, a 500 page is a plain template and shows nothing of the
request. With DEBUG on (and in error mails), Django's technical page shows
settings, POST data and every frame's local variables: Django's own filter
hides settings whose *names* look secret; this one also hides any value that
holds an app setting's or connection string's *value*, wherever it sits.
"""

from __future__ import annotations

import logging
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

from apps.webapps.masking import masking_forms

logger = logging.getLogger(__name__)


def all_secret_values() -> list[str]:
    """Every app's secret values (and their encodings); [] if the database
    itself is what failed (an error report must never fail in turn)."""
    try:
        # Imported here: Django may load this filter (settings) before the
        # apps' models can be imported.
        from apps.webapps.models import AppSetting, ConnectionString

        named = list(AppSetting.objects.values_list("name", "value"))
        named += [
            (c.env_name, c.value) for c in ConnectionString.objects.only("name", "type", "value")
        ]
    except Exception:  # noqa: BLE001 - any failure: report without this extra masking
        logger.debug("Could not read secret values for an error report", exc_info=True)
        return []
    return masking_forms(named)


class SecretsFilter(SafeExceptionReporterFilter):
    def __init__(self) -> None:
        super().__init__()
        self._secrets: list[str] | None = None

    @property
    def secrets(self) -> list[str]:
        if self._secrets is None:
            self._secrets = all_secret_values()
        return self._secrets

    def _hide(self, value: Any) -> Any:
        if not self.secrets:
            return value
        try:
            text = value if isinstance(value, str) else repr(value)
        except Exception:  # noqa: BLE001 - a broken __repr__: hide it rather than fail
            return self.cleansed_substitute
        if any(s in text for s in self.secrets):
            return self.cleansed_substitute
        return value

    def get_post_parameters(self, request):
        params = super().get_post_parameters(request)
        if request is None or not self.secrets:
            return params
        cleansed = params.copy()
        for key, values in params.lists():
            cleansed.setlist(key, [self._hide(v) for v in values])
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        found = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self._hide(value)) for name, value in found]
