#!/usr/bin/env python
"""Shaped like App Service's Django + PostgreSQL + Redis tutorial app:
production settings when WEBSITE_HOSTNAME is set (on App Service, and Berth)."""

import os
import sys


def main():
    settings_module = (
        "azureproject.production" if "WEBSITE_HOSTNAME" in os.environ else "azureproject.settings"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
