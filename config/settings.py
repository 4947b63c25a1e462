"""Settings for the shop.

Everything that differs between machines comes from the environment (see `.env.example` for
every name). For local runs a `.env` file at the project root is read by python-dotenv.
With DJANGO_DEBUG off, missing secrets stop start-up instead of falling back to a default.
"""

from __future__ import annotations

import os
from email.utils import getaddresses
from pathlib import Path
from typing import TYPE_CHECKING

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

from config.env import env_bool, env_float, env_int, env_list, env_str
from guard.rates import Rate

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

BASE_DIR = Path(__file__).resolve().parent.parent
# DJANGO_ENV_FILE names another file to read instead (e.g. /dev/null to read none).
load_dotenv(os.environ.get("DJANGO_ENV_FILE") or BASE_DIR / ".env", override=False)

DEBUG = env_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it in the environment or in .env "
            "(see .env.example); only DJANGO_DEBUG=1 runs without one."
        )
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- Iamport (PortOne V1) -----------------------------------------------------------------
IAMPORT_MERCHANT_CODE = env_str("IAMPORT_MERCHANT_CODE")  # 가맹점 식별코드, "imp" + digits
IAMPORT_API_KEY = env_str("IAMPORT_API_KEY")
IAMPORT_API_SECRET = env_str("IAMPORT_API_SECRET")
IAMPORT_API_URL = env_str("IAMPORT_API_URL")
IAMPORT_SCRIPT_URL = env_str("IAMPORT_SCRIPT_URL")
IAMPORT_PG = env_str("IAMPORT_PG", "html5_inicis")
# (connect, read) seconds for every call to the REST API.
IAMPORT_TIMEOUT = (
    env_float("IAMPORT_CONNECT_TIMEOUT", 3.05),
    env_float("IAMPORT_READ_TIMEOUT", 10.0),
)
# Seconds that all Iamport calls of one request share (token, lookup, a cancel): below
# Iamport's 30 s webhook read timeout, so a slow Iamport never makes us look dead to it.
IAMPORT_REQUEST_BUDGET = env_float("IAMPORT_REQUEST_BUDGET", 15.0)
# Pre-register merchant_uid + amount (POST /payments/prepare) before the payment window opens,
# so that the browser SDK refuses a tampered amount. The server verifies the amount either way.
IAMPORT_PREPARE = env_bool("IAMPORT_PREPARE", default=True)
# Optional allowlist of webhook sender addresses (Iamport publishes its IPs, which have changed
# before). Empty: accept from anywhere; the body is only a hint that is re-fetched anyway.
IAMPORT_WEBHOOK_ALLOWED_IPS = env_list("IAMPORT_WEBHOOK_ALLOWED_IPS")
# Iamport's documented webhook senders (they have changed before: keep this current). They, and
# the allowlist above, are never rate-limited.
IAMPORT_WEBHOOK_SENDER_IPS = env_list(
    "IAMPORT_WEBHOOK_SENDER_IPS", "52.78.100.19,52.78.48.223,52.78.5.241"
)
# Webhook deliveries accepted per sender address and window ("requests/seconds"); the
# endpoint is unauthenticated (V1 has no signature), so a flood is stopped before it is stored
# or costs an Iamport lookup.
IAMPORT_WEBHOOK_RATE = env_str("IAMPORT_WEBHOOK_RATE", "60/60")
Rate.parse(IAMPORT_WEBHOOK_RATE, setting="IAMPORT_WEBHOOK_RATE")  # a bad one stops start-up
# Bytes of a webhook body accepted (Iamport's are a few hundred); larger ones get 413.
IAMPORT_WEBHOOK_MAX_BODY = env_int("IAMPORT_WEBHOOK_MAX_BODY", 10_000)

# --- PortOne V2 ---------------------------------------------------------------------------
# Which PortOne API new payments go through: "v1" (Iamport: IMP.request_pay, api.iamport.kr) or
# "v2" (PortOne.requestPayment, api.portone.io). Every payment remembers its own API, so one
# made through V1 before a switch is still synced and refunded through V1 afterwards.
PAYMENTS_API = env_str("PAYMENTS_API", "v1").lower()
if PAYMENTS_API not in ("v1", "v2"):
    raise ImproperlyConfigured(f"PAYMENTS_API must be v1 or v2, got {PAYMENTS_API!r}.")
PORTONE_STORE_ID = env_str("PORTONE_STORE_ID")  # "store-…", console 연동 관리
PORTONE_API_SECRET = env_str("PORTONE_API_SECRET")  # the V2 API Secret, server side only
# The webhook secrets ("whsec_…"), comma-separated: PortOne keeps two alive during rotation.
PORTONE_WEBHOOK_SECRETS = env_list("PORTONE_WEBHOOK_SECRET")
if len(PORTONE_WEBHOOK_SECRETS) > 2:
    raise ImproperlyConfigured(
        "PORTONE_WEBHOOK_SECRET holds at most two secrets (the current one and the one being "
        f"rotated out), got {len(PORTONE_WEBHOOK_SECRETS)}."
    )
PORTONE_API_URL = env_str("PORTONE_API_URL")
PORTONE_SDK_URL = env_str("PORTONE_SDK_URL")
PORTONE_CHANNEL_KEY = env_str("PORTONE_CHANNEL_KEY")  # the default channel ("channel-key-…")
# (connect, read) seconds for every V2 call; PortOne advises waiting 60 s for an answer, and
# the request's budget (IAMPORT_REQUEST_BUDGET) cuts every call shorter anyway.
PORTONE_TIMEOUT = (
    env_float("PORTONE_CONNECT_TIMEOUT", 3.05),
    env_float("PORTONE_READ_TIMEOUT", 60.0),
)
# With debug off a payment made through a TEST channel never pays an order (it is cancelled
# and flagged); 1 lets test payments through, for a staging shop with debug off.
PORTONE_ALLOW_TEST_CHANNEL = env_bool("PORTONE_ALLOW_TEST_CHANNEL", default=False)

# Pay methods offered at checkout. Adding a pay method or routing one to another PG is a
# settings change: "pg" is what IMP.request_pay receives (None = IAMPORT_PG), "pay_method" the
# pay_method it receives. For V2, "v2_pay_method" is PortOne.requestPayment's payMethod and
# "channel_key" its channel (None = PORTONE_CHANNEL_KEY; PORTONE_CHANNEL_KEY_<METHOD> sets it).
# Labels are lazy translations: each page shows them in its language.
SHOP_PAY_METHODS: dict[str, dict[str, StrOrPromise | None]] = {
    "card": {
        "label": _("신용카드"),
        "pg": None,
        "pay_method": "card",
        "v2_pay_method": "CARD",
        "channel_key": env_str("PORTONE_CHANNEL_KEY_CARD") or None,
    },
    "trans": {
        "label": _("실시간 계좌이체"),
        "pg": None,
        "pay_method": "trans",
        "v2_pay_method": "TRANSFER",
        "channel_key": env_str("PORTONE_CHANNEL_KEY_TRANS") or None,
    },
    "vbank": {
        "label": _("가상계좌 (무통장입금)"),
        "pg": None,
        "pay_method": "vbank",
        "v2_pay_method": "VIRTUAL_ACCOUNT",
        "channel_key": env_str("PORTONE_CHANNEL_KEY_VBANK") or None,
    },
    "kakaopay": {
        "label": _("카카오페이"),
        "pg": "kakaopay",
        "pay_method": "card",
        # A Kakao Pay channel: the easy-pay window of that channel's PG.
        "v2_pay_method": "EASY_PAY",
        "channel_key": env_str("PORTONE_CHANNEL_KEY_KAKAOPAY") or None,
    },
}
# Days a virtual account stays open for deposit.
SHOP_VBANK_DUE_DAYS = 3
# Days after which `sync_payments` closes (cancels) a pending order nobody paid, once Iamport
# confirms it holds no payment for it; counted from the order's creation, or from the deadline
# of its last expired virtual account.
SHOP_PENDING_ORDER_MAX_AGE_DAYS = env_int("SHOP_PENDING_ORDER_MAX_AGE_DAYS", 7)
if SHOP_PENDING_ORDER_MAX_AGE_DAYS < 1:
    raise ImproperlyConfigured(
        "SHOP_PENDING_ORDER_MAX_AGE_DAYS must be at least 1 (days), got "
        f"{SHOP_PENDING_ORDER_MAX_AGE_DAYS}: a smaller one would close orders being paid."
    )
# Guest order lookup (order number + the email or phone used at checkout): attempts accepted
# per client address, and per order number, and window ("requests/seconds"). Order numbers are
# short and printed on mails, so the per-order limit is what keeps anyone from guessing the
# buyer's phone number behind one; the per-client limit stops one address trying many orders.
SHOP_LOOKUP_RATE_PER_CLIENT = env_str("SHOP_LOOKUP_RATE_PER_CLIENT", "10/600")
Rate.parse(SHOP_LOOKUP_RATE_PER_CLIENT, setting="SHOP_LOOKUP_RATE_PER_CLIENT")
SHOP_LOOKUP_RATE_PER_ORDER = env_str("SHOP_LOOKUP_RATE_PER_ORDER", "5/600")
Rate.parse(SHOP_LOOKUP_RATE_PER_ORDER, setting="SHOP_LOOKUP_RATE_PER_ORDER")

# --- Local Iamport sandbox ----------------------------------------------------------------
# "auto" (default): on when DJANGO_DEBUG is on and no Iamport credentials are configured.
# "1": on (refused with DJANGO_DEBUG off). "0": never.
_sandbox_choice = env_str("IAMPORT_SANDBOX", "auto").lower()
if PAYMENTS_API == "v2":
    _has_credentials = bool(PORTONE_API_SECRET)
else:
    _has_credentials = bool(IAMPORT_API_KEY and IAMPORT_API_SECRET)
if _sandbox_choice == "auto":
    SANDBOX_ENABLED = DEBUG and not _has_credentials
else:
    SANDBOX_ENABLED = env_bool("IAMPORT_SANDBOX")
    if SANDBOX_ENABLED and not DEBUG:
        raise ImproperlyConfigured(
            "IAMPORT_SANDBOX=1 is refused with DJANGO_DEBUG off: the sandbox takes no real money "
            "and must never run in production."
        )
SANDBOX_SITE_URL = env_str("SANDBOX_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

if SANDBOX_ENABLED:
    IAMPORT_MERCHANT_CODE = IAMPORT_MERCHANT_CODE or "imp00000000"
    IAMPORT_API_KEY = IAMPORT_API_KEY or "sandbox_api_key"
    IAMPORT_API_SECRET = IAMPORT_API_SECRET or "sandbox_api_secret"
    IAMPORT_API_URL = IAMPORT_API_URL or f"{SANDBOX_SITE_URL}/sandbox/iamport/"
    IAMPORT_SCRIPT_URL = IAMPORT_SCRIPT_URL or "/sandbox/iamport/v1/iamport.js"
    # The sandbox's V2 store: any values work, as long as the shop and the sandbox agree.
    PORTONE_STORE_ID = PORTONE_STORE_ID or "store-00000000-0000-4000-8000-000000000000"
    PORTONE_API_SECRET = PORTONE_API_SECRET or "sandbox_portone_api_secret"
    PORTONE_WEBHOOK_SECRETS = PORTONE_WEBHOOK_SECRETS or [
        "whsec_c2FuZGJveC13ZWJob29rLXNlY3JldC0wMDAwMDAwMA=="
    ]
    PORTONE_CHANNEL_KEY = PORTONE_CHANNEL_KEY or "channel-key-00000000-0000-4000-8000-sandbox"
    PORTONE_API_URL = PORTONE_API_URL or f"{SANDBOX_SITE_URL}/sandbox/portone/"
    PORTONE_SDK_URL = PORTONE_SDK_URL or "/sandbox/portone/v2/browser-sdk.js"
elif not DEBUG:
    if PAYMENTS_API == "v2":
        _required = [
            ("PORTONE_STORE_ID", PORTONE_STORE_ID),
            ("PORTONE_API_SECRET", PORTONE_API_SECRET),
            ("PORTONE_WEBHOOK_SECRET", ",".join(PORTONE_WEBHOOK_SECRETS)),
            ("PORTONE_CHANNEL_KEY", PORTONE_CHANNEL_KEY),
        ]
        _what = "PortOne V2 settings"
    else:
        _required = [
            ("IAMPORT_MERCHANT_CODE", IAMPORT_MERCHANT_CODE),
            ("IAMPORT_API_KEY", IAMPORT_API_KEY),
            ("IAMPORT_API_SECRET", IAMPORT_API_SECRET),
        ]
        _what = "Iamport credentials"
    _missing = [name for name, value in _required if not value]
    if _missing:
        raise ImproperlyConfigured(
            f"Missing {_what}: {', '.join(_missing)}. Set them in the environment or "
            "in .env (see .env.example); checkout cannot verify payments without them."
        )
IAMPORT_API_URL = IAMPORT_API_URL or "https://api.iamport.kr/"
IAMPORT_SCRIPT_URL = IAMPORT_SCRIPT_URL or "https://cdn.iamport.kr/v1/iamport.js"
PORTONE_API_URL = PORTONE_API_URL or "https://api.portone.io/"
PORTONE_SDK_URL = PORTONE_SDK_URL or "https://cdn.portone.io/v2/browser-sdk.js"

# --- Django -------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "shop",
    "payments",
    "guard",
    # The sandbox app is always installed so that its tables exist and its migrations stay in
    # step; its URLs are wired only while SANDBOX_ENABLED (config/urls.py).
    "sandbox",
]

MIDDLEWARE = [
    # First: a load balancer's probe is answered before host checks and the https redirect.
    "config.health.HealthCheckMiddleware",
    # NUL characters and oversized bodies get a 4xx before any view or query sees them.
    "guard.middleware.reject_malformed_requests",
    "django.middleware.security.SecurityMiddleware",
    # Static files (pay.js, CSS) served by the application itself, also with debug off.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Korean unless the browser asks for English (Accept-Language) or the buyer chose it with
    # the header's language switch (kept in the django_language cookie).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Every Iamport call a request makes shares one time budget (IAMPORT_REQUEST_BUDGET).
    "payments.middleware.iamport_time_budget",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.shop",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Seconds a connection is kept for the next request of the same worker thread (0: a new
        # one per request). Checked before reuse, so a restarted database costs one error-free
        # reconnect instead of a failed request.
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent requests (browser callback and webhook at once) must wait for the write lock
    # instead of failing: IMMEDIATE takes it when the transaction starts, "timeout" waits for it.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    # A file (not in-memory) test database, so that threads of the live server and of the
    # sandbox's webhook sender see the same data as the tests.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("DJANGO_TEST_SQLITE", str(BASE_DIR / ".test-db.sqlite3"))
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The shop is written in Korean (the source strings); English comes from locale/en/.
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True
# Datetimes read "2026-12-02 15:04" in every language (config/formats/).
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
# Product images. With several machines, put this folder on shared storage (README).
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(BASE_DIR / "media")))
# A template naming a static file that `collectstatic` has not seen gets its plain name rather
# than failing the page (the error page above all).
WHITENOISE_MANIFEST_STRICT = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # With debug off: hashed names (cached for a year by browsers), gzip/brotli copies, all made
    # by `collectstatic` (part of `make serve`) and served by WhiteNoise.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the pay button reads it to post the verdict request

# --- HTTPS and browser security headers ----------------------------------------------------
# On by default with debug off: https redirect, HSTS and https-only cookies. DJANGO_HTTPS=0
# turns all three off, for plain-http testing on a private host only.
HTTPS = env_bool("DJANGO_HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Asking browsers to hard-code https for the whole domain is a commitment that outlives this
# deployment, so it is opt-in; Django's reminder about it (security.W021) is silenced below.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
# PG pages check which site sent the buyer: send our origin (never the order's path, which
# holds its merchant_uid) to other sites, and only over https.
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
# Iamport's payment window is an iframe in our page; our pages themselves are never framed.
X_FRAME_OPTIONS = "DENY"
# Some PGs open their authentication in a popup that reports back to its opener: keep that
# link (the default "same-origin" would cut it).
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# Who is mailed a server error's traceback: "Name <mail@example.com>, other@example.com".
ADMINS = [
    (name or address, address)
    for name, address in getaddresses(env_list("DJANGO_ADMINS"))
    if "@" in address
]
SERVER_EMAIL = env_str("DJANGO_SERVER_EMAIL", "root@localhost")

# Everything goes to stderr (the server's log), a server error with its traceback included;
# with ADMINS set, server errors are also mailed to them when debug is off.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        "debug_off": {"()": "django.utils.log.RequireDebugFalse"},
        "one_line_warning": {"()": "config.logs.OneLineWarning"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # A request for a host we do not serve (scanners, a probe by IP) is the caller's
        # mistake: one line, not an error with a traceback.
        "console_one_line": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["one_line_warning"],
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["debug_off"],
        },
    },
    "loggers": {
        "django.request": {
            "handlers": ["console", "mail_admins"],
            "level": "ERROR",
            "propagate": False,
        },
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.security.DisallowedHost": {
            "handlers": ["console_one_line"],
            "level": "WARNING",
            "propagate": False,
        },
        "payments": {"handlers": ["console"], "level": env_str("PAYMENTS_LOG_LEVEL", "INFO")},
        "shop": {"handlers": ["console"], "level": "INFO"},
        "sandbox": {"handlers": ["console"], "level": "INFO"},
        "config": {"handlers": ["console"], "level": "INFO"},
    },
}

SHOP_NAME = env_str("SHOP_NAME", "아임포트 상점")
# The shop's public address, e.g. https://shop.example.com. Iamport's redirect and webhook URLs
# (m_redirect_url, notice_url) are built from it; unset, from the request's own host.
SHOP_BASE_URL = env_str("SHOP_BASE_URL").rstrip("/")
if not DEBUG and not SHOP_BASE_URL:
    # Behind a load balancer, the host a request came in by need not be one Iamport can reach.
    raise ImproperlyConfigured(
        "SHOP_BASE_URL is not set. With DJANGO_DEBUG=0 set it to the shop's public address "
        "(e.g. https://shop.example.com): Iamport's webhook and mobile redirect URLs are built "
        "from it."
    )
# How many proxies of ours stand in front of the shop (load balancer, nginx): the client's
# address is then read from X-Forwarded-For through exactly that many. 0: REMOTE_ADDR.
TRUSTED_PROXIES = env_int("DJANGO_TRUSTED_PROXIES", 0)
# Behind a proxy that terminates TLS and sets X-Forwarded-Proto, let Django see https.
if env_bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Mail to buyers goes through an outbox (shop.mail). With debug on it is sent right after the
# commit; in production by the worker step (`sync_payments`), never on a request's path.
SHOP_MAIL_SEND_NOW = env_bool("SHOP_MAIL_SEND_NOW", default=DEBUG)
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_TIMEOUT = env_float("DJANGO_EMAIL_TIMEOUT", 10.0)  # seconds; SMTP has none by default
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(env_float("DJANGO_EMAIL_PORT", 25))
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", default=False)
EMAIL_FILE_PATH = env_str("DJANGO_EMAIL_FILE_PATH") or None  # for the file-based backend
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "shop@localhost")
