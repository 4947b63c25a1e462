"""`manage.py` with a crash point installed (see crashpoints.py beside this file).

    CRASH_AT=mail_after_send CRASH_MARKER=/tmp/x \
        python -m tests.e2e.processes.crashing_manage sync_payments

Run with the shop's environment (its DJANGO_SECRET_KEY, DATABASE_URL, ...), from the
repository root, as `manage.py` would be.
"""

import os
import sys

import django
from django.core.management import execute_from_command_line

from tests.e2e.processes.crashpoints import install


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    install()
    execute_from_command_line(["manage.py", *sys.argv[1:]])


if __name__ == "__main__":
    main()
