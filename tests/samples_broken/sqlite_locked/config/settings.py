INSTALLED_APPS = ["django.contrib.contenttypes"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "/tmp/data.sqlite3",
    }
}
