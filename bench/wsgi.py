"""The WSGI application gunicorn serves for the benchmark: the shop (config/wsgi.py) with the
benchmark's settings module, which adds `/bench/bare/` to the shop's URLs (bench/settings.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

application = get_wsgi_application()
