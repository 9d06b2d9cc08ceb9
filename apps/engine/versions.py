"""The Python versions Berth offers and the name of each one's runtime image.

Data only: the builder (apps.engine.builders) and the catalog
(apps.engine.runtimes) both read it.
"""

from __future__ import annotations

from django.conf import settings

# Python versions App Service offers on Linux, with the Debian suite that
# carries each as its python3 (None: no Debian suite does; pull only).
PYTHON_VERSIONS: dict[str, str | None] = {
    "3.9": "bullseye",
    "3.10": None,
    "3.11": "bookworm",
    "3.12": None,
    "3.13": "trixie",
    "3.14": "forky",
}
END_OF_LIFE = {
    "3.9": "2025-10-31",
    "3.10": "2026-10-31",
    "3.11": "2027-10-31",
    "3.12": "2028-10-31",
    "3.13": "2029-10-31",
    "3.14": "2030-10-31",
}


def image_tag(version: str) -> str:
    return f"{settings.BERTH_RUNTIME_IMAGE_PREFIX}:{version}"
