"""Podium settings, driven by the environment (see config/env.py; bad values fail at start-up).

Development defaults: DEBUG on, SQLite at var/podium.sqlite3, Celery's filesystem broker under
var/broker/, console e-mail, private uploads under var/private/.
Production: DJANGO_SETTINGS_MODULE=config.production (or DEBUG=0): SECRET_KEY is required and
secure cookies, HSTS and HTTPS redirects are on, so `manage.py check --deploy` passes.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Every writable path lives under VAR_DIR (config.settings_test moves it per test run). Importing
# settings creates nothing: competitions' AppConfig.ready() makes the directories (config.dirs).
VAR_DIR = Path(env_str("PODIUM_VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", True)
_DEV_KEY = "django-insecure-dev-only-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env_str("SECRET_KEY", _DEV_KEY if DEBUG else None)
if not DEBUG and SECRET_KEY == _DEV_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set to a private value when DEBUG=0")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First, so that Podium's own registration/ templates (login, password reset) win over the
    # admin app's "Django administration" ones.
    "competitions",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "ninja",  # serves /api/docs' Swagger UI from its own static files, never a CDN
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "competitions.middleware.UploadSizeLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before XFrameOptionsMiddleware: on LTI pages it replaces DENY with frame-ancestors.
    "competitions.lti.frames.LtiFrameMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it sees the response of a login that django-axes refused (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "competitions.context_processors.nav",
            ],
        },
    },
]

_default_db = f"sqlite:///{VAR_DIR / 'podium.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _default_db), conn_max_age=env_int("DB_CONN_MAX_AGE", 0)
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:) so that a real Celery worker process can see the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_podium.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# AxesStandaloneBackend first: it refuses a locked-out login before any password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "competitions:home"
LOGOUT_REDIRECT_URL = "competitions:home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))

# Uploads and datasets live in private storage: never under MEDIA_URL, only streamed by views
# that check permissions. PODIUM_STORAGE=s3 selects django-storages' S3 backend (bucket private).
PRIVATE_ROOT = Path(env_str("PODIUM_PRIVATE_ROOT", str(VAR_DIR / "private")))
_storage = env_str("PODIUM_STORAGE", "local")
if _storage == "local":
    _private = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_ROOT), "base_url": None},
    }
elif _storage == "s3":
    _private = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    raise ImproperlyConfigured(f"PODIUM_STORAGE={_storage!r}: use 'local' or 's3'")
STORAGES = {
    "default": _private,
    "private": _private,
    "staticfiles": {
        "BACKEND": (
            "config.static.VersionedStaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Under DEBUG each static URL carries its file's version (config/static.py): the browser keeps
# files for an hour and fetches a changed one under its new URL. (whitenoise's own default under
# DEBUG is 0: ask again on every page.) Production's hashed names are kept for ten years.
WHITENOISE_MAX_AGE = env_int("WHITENOISE_MAX_AGE", 3600 if DEBUG else 60, minimum=0)

# Upload limits: the request body cap is checked by Django before the file is read.
PODIUM_MAX_UPLOAD_MB = env_int("PODIUM_MAX_UPLOAD_MB", 100, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
PODIUM_DATASET_MAX_UPLOAD_MB = env_int("PODIUM_DATASET_MAX_UPLOAD_MB", 500, minimum=1)
# Refused uploads don't use the quota, but more than this many per hour per user are refused.
PODIUM_FLOOD_LIMIT_PER_HOUR = env_int("PODIUM_FLOOD_LIMIT_PER_HOUR", 30, minimum=1)
PODIUM_DATASET_CACHE = Path(env_str("PODIUM_DATASET_CACHE", str(VAR_DIR / "cache" / "datasets")))

# --- Login lockout and API throttling ----------------------------------------------------------
# django-axes counts failed logins (site form, admin, POST /api/tokens) per username *and* client
# address, in the database: after PODIUM_LOGIN_FAILURE_LIMIT failures that pair is refused for
# PODIUM_LOGIN_COOLOFF_MIN minutes after the last failure (tries while locked don't extend it, and
# check no password), so an attacker elsewhere cannot lock a student out from their own machine.
# A successful login clears the count. `manage.py axes_reset` lifts every lockout.
AXES_FAILURE_LIMIT = env_int("PODIUM_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("PODIUM_LOGIN_COOLOFF_MIN", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "competitions.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "competitions.lockout.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
# Proxies in front of the site that append to X-Forwarded-For (0: use REMOTE_ADDR, never the
# header, which a client can forge). Behind one TLS proxy, set 1: otherwise every client has the
# proxy's address, and lockouts and throttles become per username / site-wide.
PODIUM_TRUSTED_PROXIES = env_int("PODIUM_TRUSTED_PROXIES", 0, minimum=0)
NINJA_NUM_PROXIES = PODIUM_TRUSTED_PROXIES
# django-ninja rate for POST /api/tokens per client address ("<n>/<s|min|hour|day>"); refused
# requests answer 429 `throttled` before any password is checked.
PODIUM_API_LOGIN_RATE = env_str("PODIUM_API_LOGIN_RATE", "10/min")
if not re.fullmatch(r"[1-9]\d*/(s|sec|m|min|h|hour|d|day)", PODIUM_API_LOGIN_RATE):
    raise ImproperlyConfigured(
        f"PODIUM_API_LOGIN_RATE={PODIUM_API_LOGIN_RATE!r}: use <n>/<s|min|hour|day>, e.g. 10/min"
    )
# Tokens a user may hold at once (they don't expire; revoking one frees a place).
PODIUM_MAX_TOKENS_PER_USER = env_int("PODIUM_MAX_TOKENS_PER_USER", 20, minimum=1)
# The throttle's counters live in the cache: with several web processes give them a shared one
# (CACHE_URL=redis://...), or each process counts alone.
_cache_url = env_str("CACHE_URL", "locmem://")
if _cache_url.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
        }
    }
elif _cache_url == "locmem://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL={_cache_url!r}: use locmem:// or redis://host:port/db")

_mail_backend = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
_mail_options: dict[str, object] = {}
if _mail_backend.endswith("smtp.EmailBackend"):
    _mail_options = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 25, minimum=1),
        "username": env_str("EMAIL_HOST_USER", ""),
        "password": env_str("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
    }
MAILERS = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "podium@localhost")
# How long an invitation link (sent to accounts a roster import creates) can set a first password.
PODIUM_INVITATION_DAYS = env_int("PODIUM_INVITATION_DAYS", 7, minimum=1)
# The site's public address, for links in e-mails sent by workers (no request to take it from).
PODIUM_SITE_URL = env_str("PODIUM_SITE_URL", "http://127.0.0.1:8000")

# --- Celery -----------------------------------------------------------------------------------
PODIUM_BROKER_DIR = Path(env_str("PODIUM_BROKER_DIR", str(VAR_DIR / "broker")))
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
# Hard limit: the worker process is killed; soft limit: the task gets an exception first.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 900, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = env_int(
    "CELERY_TASK_SOFT_TIME_LIMIT", CELERY_TASK_TIME_LIMIT - 60, minimum=5
)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(PODIUM_BROKER_DIR / "queue"),
        "data_folder_out": str(PODIUM_BROKER_DIR / "queue"),
        "processed_folder": str(PODIUM_BROKER_DIR / "processed"),
        "store_processed": False,
        # On Linux a waiting worker is woken by inotify when a message lands (config/broker.py).
        # Without inotify the transport looks every polling_interval (kombu's default: 1 s); the
        # look is on the path of every submission: upload to claim took 46-51 ms at 1 s, 11-13 ms
        # at 10 ms (bench/push.py, docs/BENCHMARKS.md).
        "polling_interval": env_int("PODIUM_BROKER_POLL_MS", 10, minimum=1) / 1000,
    }
else:
    # A message not acknowledged within this time is redelivered: keep it above the hard limit.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 300}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Submissions are routed per competition (queue=cpu|gpu) in services; the sweeper goes to cpu.
CELERY_BEAT_SCHEDULE = {
    "sweep-submissions": {
        "task": "competitions.tasks.sweep_submissions",
        "schedule": float(env_int("PODIUM_SWEEP_SECONDS", 60, minimum=5)),
        "options": {"queue": "cpu"},
    },
    # LMS rosters (NRPS) of every LTI context, then grade passback of recent closes (idempotent).
    "lti-sync": {
        "task": "competitions.tasks.lti_sync_rosters",
        "schedule": float(env_int("PODIUM_LTI_SYNC_SECONDS", 3600, minimum=60)),
        "options": {"queue": "cpu"},
    },
    # Reminders 24 h before a close, final standings after one, and e-mails left waiting.
    "notify-deadlines": {
        "task": "competitions.tasks.notify_deadlines",
        "schedule": float(env_int("PODIUM_NOTIFY_SECONDS", 600, minimum=5)),
        "options": {"queue": "cpu"},
    },
}
# Push events for open pages (competitions/events.py): Redis pub/sub when the broker is Redis,
# else files under VAR_DIR/events (one machine: the embedded default).
PODIUM_EVENTS_URL = env_str(
    "PODIUM_EVENTS_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "file://"
)
# Submissions left queued this long without a worker taking them are sent again.
PODIUM_REQUEUE_AFTER_S = env_int("PODIUM_REQUEUE_AFTER_S", 300, minimum=10)
PODIUM_MAX_ATTEMPTS = env_int("PODIUM_MAX_ATTEMPTS", 3, minimum=1)
# Staff (users with is_staff and an e-mail) are mailed when a submission has waited this long in a
# queue, at most once per PODIUM_QUEUE_ALERT_EVERY_S; workers report every PODIUM_HEARTBEAT_S.
PODIUM_QUEUE_ALERT_AFTER_S = env_int("PODIUM_QUEUE_ALERT_AFTER_S", 600, minimum=60)
PODIUM_QUEUE_ALERT_EVERY_S = env_int("PODIUM_QUEUE_ALERT_EVERY_S", 3600, minimum=60)
PODIUM_HEARTBEAT_S = env_int("PODIUM_HEARTBEAT_S", 20, minimum=1)
# onnxruntime threads of one grading: a worker machine's cores over its grading slots (two solo
# workers on two cores: 1 each; two threads each there make them take cores from each other).
PODIUM_GRADER_THREADS = env_int("PODIUM_GRADER_THREADS", 2, minimum=1)
# Grading slots per queue: the workers' total concurrency on it. The database holds the queue and
# sends at most this many messages at once (competitions.services.dispatch); fewer slots than
# worker processes leaves workers idle, more lets messages wait in the broker in FIFO order.
PODIUM_GRADING_SLOTS = {
    "cpu": env_int("PODIUM_CPU_SLOTS", 2, minimum=1),
    "gpu": env_int("PODIUM_GPU_SLOTS", 1, minimum=1),
}
# "fair" (round-robin by entrant, competitions/selectors/queue.py) or "fifo" (arrival order, the
# order before the fair queue; kept to measure one against the other: bench/rush.py).
PODIUM_QUEUE_ORDER = env_str("PODIUM_QUEUE_ORDER", "fair")
if PODIUM_QUEUE_ORDER not in ("fair", "fifo"):
    raise ImproperlyConfigured("PODIUM_QUEUE_ORDER must be fair or fifo")
# How many recent gradings the queue's time estimate (eta_s) averages.
PODIUM_ETA_SAMPLE = 20

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Security (all on when DEBUG is off) -----------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # except LTI pages and LTI sessions (competitions/lti/frames.py)
# Inside an LMS's iframe Podium is a third-party site: its session and CSRF cookies are only sent
# with SameSite=None (and Secure, which production has). On by default in production; with it
# off, or where the browser blocks third-party cookies, launches open in a new window (docs/LTI.md).
if env_bool("PODIUM_LTI_IFRAME_COOKIES", not DEBUG):
    SESSION_COOKIE_SAMESITE = "None"
    CSRF_COOKIE_SAMESITE = "None"

# --- LTI 1.3 (docs/LTI.md) ---------------------------------------------------------------------
# Every call to a platform (JWKS, tokens, NRPS, AGS) is bounded in time and size.
PODIUM_LTI_HTTP_TIMEOUT_S = env_int("PODIUM_LTI_HTTP_TIMEOUT_S", 10, minimum=1)
PODIUM_LTI_MAX_RESPONSE_BYTES = env_int(
    "PODIUM_LTI_MAX_RESPONSE_BYTES", 2 * 1024 * 1024, minimum=1024
)
PODIUM_LTI_JWKS_CACHE_S = env_int("PODIUM_LTI_JWKS_CACHE_S", 600, minimum=0)
# Launch tokens: leeway for the LMS's clock on exp/iat, and the oldest iat taken whatever exp says.
PODIUM_LTI_CLOCK_SKEW_S = env_int("PODIUM_LTI_CLOCK_SKEW_S", 60, minimum=0)
PODIUM_LTI_MAX_TOKEN_AGE_S = env_int("PODIUM_LTI_MAX_TOKEN_AGE_S", 600, minimum=60)
# Retired tool keys stay in /lti/jwks/ this long after `manage.py lti_keys_rotate`.
PODIUM_LTI_KEY_OVERLAP_DAYS = env_int("PODIUM_LTI_KEY_OVERLAP_DAYS", 7, minimum=0)
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
