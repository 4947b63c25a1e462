#!/usr/bin/env python
"""Django's command-line utility for the shop.

The command line is a development tool: when neither the environment nor `.env` sets
DJANGO_DEBUG, it runs in debug mode (and so, without Iamport credentials, with the sandbox).
Production serves through `config/wsgi.py`, where debug stays off unless DJANGO_DEBUG=1 and
missing secrets stop start-up; set DJANGO_DEBUG=0 for management commands in production.
"""

import os
import sys
from pathlib import Path


def main() -> None:
    from dotenv import load_dotenv

    env_file = os.environ.get("DJANGO_ENV_FILE") or Path(__file__).resolve().parent / ".env"
    load_dotenv(env_file, override=False)
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
