import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "sample-not-secret"
DEBUG = False
ALLOWED_HOSTS = [os.environ.get("WEBSITE_HOSTNAME", "localhost"), "localhost", "127.0.0.1"]
INSTALLED_APPS = ["django.contrib.staticfiles"]
ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DATABASES = {}
