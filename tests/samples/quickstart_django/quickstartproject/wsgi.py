"""WSGI entry point: production settings when App Service's WEBSITE_HOSTNAME is set."""

import os

from django.core.wsgi import get_wsgi_application

settings_module = (
    "quickstartproject.production"
    if "WEBSITE_HOSTNAME" in os.environ
    else "quickstartproject.settings"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)

application = get_wsgi_application()
