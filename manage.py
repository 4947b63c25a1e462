#!/usr/bin/env python
"""Django's command-line utility for the shop.

On a development checkout (neither the environment nor `.env` sets DJANGO_DEBUG or
DJANGO_SECRET_KEY) it runs in debug mode, and so, without Iamport credentials, with the
sandbox. Anywhere a secret key is configured, as every production machine has, nothing is
assumed: debug stays off unless DJANGO_DEBUG=1, as for the WSGI server (`config/wsgi.py`).
"""

import os
import sys
from pathlib import Path


def main() -> None:
    from dotenv import load_dotenv

    env_file = os.environ.get("DJANGO_ENV_FILE") or Path(__file__).resolve().parent / ".env"
    load_dotenv(env_file, override=False)
    if "DJANGO_SECRET_KEY" not in os.environ:
        os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
