"""Settings for the test suite: the shop's own settings with Iamport pointed at fixed values.

The real Iamport host is named so that every call is matched by a `responses` mock; nothing
reaches the network (see tests/conftest.py). DATABASE_URL is left alone: unset means SQLite,
a postgres:// URL runs the same suite on PostgreSQL.
"""

import os

os.environ.update(
    {
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": "test-secret-key",
        "IAMPORT_SANDBOX": "1",
        "IAMPORT_MERCHANT_CODE": "imp00000000",
        "IAMPORT_API_KEY": "imp_apikey",
        "IAMPORT_API_SECRET": "test_api_secret",
        "IAMPORT_API_URL": "https://api.iamport.kr/",
        "IAMPORT_PREPARE": "1",
        "IAMPORT_WEBHOOK_ALLOWED_IPS": "",
        # PortOne V2: fixed values, the real API host (every call matched by a mock).
        "PAYMENTS_API": "v1",
        "PORTONE_STORE_ID": "store-test-0000",
        "PORTONE_API_SECRET": "test_portone_secret",
        "PORTONE_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "PORTONE_API_URL": "https://api.portone.io/",
        "PORTONE_CHANNEL_KEY": "channel-key-test-default",
    }
)
os.environ.pop("IAMPORT_SCRIPT_URL", None)

from config.settings import *  # noqa: F403
from config.settings import BASE_DIR, DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# WhiteNoise finds static files where the code keeps them, never in a developer's (or a
# concurrently running `collectstatic`'s) STATIC_ROOT.
STATIC_ROOT = BASE_DIR / ".test-staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# One SQLite test database per run, so that two runs in one checkout don't collide
# (Django deletes it at the end of the run). DJANGO_TEST_SQLITE still wins when set.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and not os.environ.get(
    "DJANGO_TEST_SQLITE"
):
    DATABASES["default"]["TEST"]["NAME"] = str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")
