"""The shop's production WSGI application with a crash point installed (see crashpoints.py).

    gunicorn tests.e2e.processes.crashing_wsgi:application    # CRASH_AT=..., CRASH_MARKER=...

`config.wsgi.application` itself (whatever `make serve` serves), loaded unchanged; each worker
process installs the point when it loads this module, so a restarted worker is armed again and
passes through once the marker exists.
"""

from config.wsgi import application
from tests.e2e.processes.crashpoints import install

__all__ = ["application"]

install()
