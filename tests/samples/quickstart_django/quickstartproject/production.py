import os

from .settings import *  # noqa: F401,F403

# App Service names the site in WEBSITE_HOSTNAME.
ALLOWED_HOSTS = [os.environ["WEBSITE_HOSTNAME"]] if "WEBSITE_HOSTNAME" in os.environ else []
DEBUG = False
