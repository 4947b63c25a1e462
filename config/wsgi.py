"""WSGI entry point for production servers (`make serve` runs gunicorn on it)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from guard.wsgi import refuse_unreadable_requests

application = refuse_unreadable_requests(get_wsgi_application())
