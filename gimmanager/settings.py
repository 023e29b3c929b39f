"""GIM Manager settings, 12-factor: everything that differs between machines
comes from the environment, with defaults that run locally with no servers
(SQLite in WAL mode and kombu's filesystem broker under var/)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GIM_VAR_DIR", BASE_DIR / "var")).resolve()

env = environ.Env()


def env_secret(name: str) -> str:
    """A secret from NAME, from the file named by NAME_FILE (Docker secrets), or,
    for a zero-setup local run, a random one kept in var/ (mode 0600)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    if os.environ.get(name):
        return os.environ[name]
    local = VAR_DIR / name.lower()
    if not local.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    value = local.read_text().strip()
    if not value:
        raise ImproperlyConfigured(f"{local} is empty: set {name} or delete the file.")
    return value


DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "gimmanager.config",
    "gimmanager.jobs",
    "scheduler",
    "infomart",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Database down: 503 and a short message instead of a 500 (see gimmanager/outage.py).
    "gimmanager.outage.OutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "gimmanager.urls"
WSGI_APPLICATION = "gimmanager.wsgi.application"

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
            ],
        },
    }
]

# --- database -----------------------------------------------------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "gim.sqlite3",
            # WAL + IMMEDIATE: web, worker and scheduler write concurrently without
            # "database is locked" (verified in ../shared/stack.md).
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
if os.environ.get("GIM_TEST_DATABASE_NAME"):
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ["GIM_TEST_DATABASE_NAME"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("GIM_SERVER_TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- security outside debug ---------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("GIM_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
    SECURE_SSL_REDIRECT = env.bool("GIM_SSL_REDIRECT", default=False)
    SECURE_HSTS_SECONDS = env.int("GIM_HSTS_SECONDS", default=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("GIM_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("GIM_HSTS_PRELOAD", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Celery -------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _q = VAR_DIR / "celery"
    for _d in ("queue", "processed", "control"):
        (_q / _d).mkdir(parents=True, exist_ok=True)
    # Absolute folders: the default control folder is relative to the cwd, which
    # breaks revoke/broadcast between processes started in different folders.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_q / "queue"),
        "data_folder_out": str(_q / "queue"),
        "processed_folder": str(_q / "processed"),
        "store_processed": False,
        "control_folder": str(_q / "control"),
        "polling_interval": 0.2,
    }
else:
    # Job_AggregateGIM runs for hours: a visibility timeout shorter than a job
    # would make Redis redeliver it. Redelivery is harmless anyway (the run row
    # is the lock), but there is no reason to provoke it.
    # Socket timeouts: a broker that is gone without closing the connection would
    # otherwise hold a Run Job request (the publish) forever.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 12 * 3600, "socket_connect_timeout": 3,
                                       "socket_timeout": 5}
# One quick retry, then the send fails and the run ends FAILED with the reason
# (gimmanager.jobs.services._fail_unsent): a request never waits long for a dead broker.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5,
                                    "interval_max": 0.5}
CELERY_TASK_IGNORE_RESULT = True  # the JobRun row is the result
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("GIM_CELERY_QUEUE", "gim")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True

# --- GIM Manager --------------------------------------------------------------
# Seconds between a running job's heartbeats, and after how long without one a
# run is declared lost (FAILED). Bound for a dead worker: GIM_HEARTBEAT_TIMEOUT
# plus one scheduler tick.
GIM_HEARTBEAT_INTERVAL = env.float("GIM_HEARTBEAT_INTERVAL", default=2.0)
GIM_HEARTBEAT_TIMEOUT = env.float("GIM_HEARTBEAT_TIMEOUT", default=15.0)
# A RUNNING run no worker has picked up after this long is FAILED (no worker online).
GIM_PICKUP_TIMEOUT = env.float("GIM_PICKUP_TIMEOUT", default=120.0)
# Seconds a cooperative stop may take before the worker process is terminated.
GIM_STOP_GRACE = env.float("GIM_STOP_GRACE", default=10.0)
GIM_BASE_DIR = BASE_DIR

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "GIM Manager API", "VERSION": "1.0.0", "SERVE_INCLUDE_SCHEMA": False,
                        "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],  # signed-in only
                        # the options-change body and the zone list (console/api_schema.py)
                        "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                                                 "console.api_schema.add_components"]}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("GIM_LOG_LEVEL", default="INFO")},
}
