"""Settings, all from the environment. README.md lists every variable and its default."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.core.addresses import proxies_parse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    configured = os.environ.get("SECRET_KEY", "")
    if configured:
        return configured
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is False.")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "portal.core.admin_site.SuperuserAdminConfig",  # django.contrib.admin, for superusers only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "template_partials",
    "django_celery_beat",  # cleanup policies' schedules, stored in the database; beat runs its DatabaseScheduler
    "portal.core",
    "portal.meetings",
    "portal.stages",
    "portal.channels",
    "portal.pipelines",
    "portal.pstn",
    "portal.cleanup",
    "axes",  # before portal.users: its login receivers run first
    "portal.users",
]

MIDDLEWARE = [
    "portal.core.health.HealthProbeMiddleware",  # /healthz, /readyz: before the host check and HTTPS redirect
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.core.middleware.DatabaseUnavailableMiddleware",  # outside everything that reads the database
    "portal.core.middleware.MalformedRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.core.middleware.SessionRenewalMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.core.middleware.DomainErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.core.context_processors.navigation",
            ],
        },
    },
]

_default_sqlite = f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_sqlite))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Each process (web worker, Celery pool child, beat) keeps its own small pool; the processes of one host times
    # DATABASE_POOL_MAX_SIZE must stay well under PostgreSQL's max_connections (100 by default).
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),  # what the URL's query says, e.g. ?sslmode=require
        "pool": {"min_size": 1, "max_size": int(os.environ.get("DATABASE_POOL_MAX_SIZE", "4")), "timeout": 10},
        # Django's queries bind on the client and are never prepared; the few hot statements that bind on the
        # server (portal.core.statements) are prepared at their first run. Off for a pooler that cannot keep them.
        "prepare_threshold": 0 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None,
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web processes and the workers read while one writes; IMMEDIATE avoids upgrade deadlocks.
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

# --- Security: HTTPS, sessions, logins, Content-Security-Policy ------------------------------------------------
# README's "Production settings" lists the values `manage.py check --deploy` accepts; compose.yaml sets them.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# "HTTP_X_FORWARDED_PROTO,https": the TLS proxy in front says so; only when that proxy always sets the header.
_proxy_ssl_header = env_list("SECURE_PROXY_SSL_HEADER", "")
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) if _proxy_ssl_header else None
if SECURE_PROXY_SSL_HEADER is not None and len(SECURE_PROXY_SSL_HEADER) != 2:
    raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER is a header and its value, e.g. HTTP_X_FORWARDED_PROTO,https.")
# An idle timeout: a session ends this many seconds after its last request (each request renews it); 8 hours.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
# Renewed at most once a minute (portal.core.middleware.SessionRenewalMiddleware), not on every poll.
SESSION_RENEW_SECONDS = int(os.environ.get("SESSION_RENEW_SECONDS", "60"))
CSRF_FAILURE_VIEW = "portal.core.views.csrf_failure"
# The proxies in front whose X-Forwarded-For names the client (portal.core.addresses; gunicorn.conf.py gives gunicorn
# the same for the scheme headers): addresses and CIDR networks. Empty: nobody's, every peer is the client.
try:
    TRUSTED_PROXIES = proxies_parse(os.environ.get("TRUSTED_PROXIES", ""))
except ValueError as error:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {error}.") from None

# Brute force (django-axes): after LOGIN_FAILURE_LIMIT failed logins for one username, or from one address, that
# username or address is refused for LOGIN_LOCKOUT_MINUTES (0: until an Admin unlocks it on the Users page).
AUTHENTICATION_BACKENDS = ["portal.users.backends.LoginLockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
_lockout_minutes = float(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))
AXES_COOLOFF_TIME = timedelta(minutes=_lockout_minutes) if _lockout_minutes > 0 else None
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_DISABLE_ACCESS_LOG = True  # the audit log records logins and logouts (portal.users.receivers)
AXES_CLIENT_IP_CALLABLE = "portal.core.addresses.client_address"  # the address behind a trusted proxy

# Everything from the portal itself: no inline script or style, no other origin, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"botocore": {"level": "WARNING"}, "aiobotocore": {"level": "WARNING"}},
}

# --- Operation pipeline ---------------------------------------------------------------------------------------
OPERATION_MAX_ATTEMPTS = int(os.environ.get("OPERATION_MAX_ATTEMPTS", "6"))
OPERATION_BACKOFF_BASE_SECONDS = float(os.environ.get("OPERATION_BACKOFF_BASE_SECONDS", "1"))
OPERATION_BACKOFF_MAX_SECONDS = float(os.environ.get("OPERATION_BACKOFF_MAX_SECONDS", "60"))
OPERATION_STUCK_AFTER_SECONDS = int(os.environ.get("OPERATION_STUCK_AFTER_SECONDS", "300"))
# A queued operation no courier has picked up after this long (its message was lost) is delivered again.
OPERATION_REDELIVER_AFTER_SECONDS = float(os.environ.get("OPERATION_REDELIVER_AFTER_SECONDS", "30"))
# A local effect that failed after AWS answered is applied again by the sweeper after this many seconds.
OPERATION_EFFECT_RETRY_SECONDS = float(os.environ.get("OPERATION_EFFECT_RETRY_SECONDS", "30"))

# --- Celery ---------------------------------------------------------------------------------------------------
# Redis when CELERY_BROKER_URL or REDIS_URL is set; otherwise kombu's filesystem transport under var/, so the
# worker and beat run with nothing else installed.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    for folder in ("in", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "in"),
        "data_folder_out": str(BROKER_DIR / "in"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),  # exchange bindings, shared by every process
        "store_processed": False,
    }
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task past the soft limit gets SoftTimeLimitExceeded, past the hard one its process is killed; both stay below
# OPERATION_STUCK_AFTER_SECONDS (checked here), so the sweeper never re-queues an operation a worker still runs.
# Default: 60 % and 80 % of it.
_stuck = OPERATION_STUCK_AFTER_SECONDS
CELERY_TASK_SOFT_TIME_LIMIT = float(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT") or 0.6 * _stuck)
CELERY_TASK_TIME_LIMIT = float(os.environ.get("CELERY_TASK_TIME_LIMIT") or 0.8 * _stuck)
if not 0 < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < OPERATION_STUCK_AFTER_SECONDS:
    raise ImproperlyConfigured(
        "Need 0 < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < OPERATION_STUCK_AFTER_SECONDS, got "
        f"{CELERY_TASK_SOFT_TIME_LIMIT}, {CELERY_TASK_TIME_LIMIT}, {OPERATION_STUCK_AFTER_SECONDS}."
    )
# Refreshers run on their own queue and worker (the Procfile's `refresher`), so a slow AWS listing never delays
# the operations people are waiting for on the default queue `celery`.
CELERY_TASK_ROUTES = {"portal.*.tasks.*refresh*": {"queue": "refresh"}}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# A broker outage of any length is ridden out: workers, the refresher and beat retry connecting forever (after 2 s,
# then 2 s longer each time, up to 30 s), and a task running when the broker went away runs to its end and records
# its outcome.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Redis (broker and cache): how long connecting and a reply may take. A send makes one attempt: an operation whose
# message could not be sent stays queued and the sweeper delivers it once the broker answers, so a request never
# waits for a broker that is down (kombu's default would retry for 4 s, ~6 s a request).
REDIS_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("REDIS_CONNECT_TIMEOUT_SECONDS", "0.5"))
REDIS_SOCKET_TIMEOUT_SECONDS = float(os.environ.get("REDIS_SOCKET_TIMEOUT_SECONDS", "5"))
REDIS_CLIENT_OPTIONS = {
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
}
BROKER_REDIS_TRANSPORT_OPTIONS = {"max_retries": 0, **REDIS_CLIENT_OPTIONS}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):  # served by portal.celery.RedisTransport
    CELERY_BROKER_TRANSPORT_OPTIONS = BROKER_REDIS_TRANSPORT_OPTIONS
CELERY_BEAT_SCHEDULE = {
    "operations-sweep": {"task": "portal.core.tasks.operations_sweep", "schedule": 10.0},
    "secrets-expire": {"task": "portal.core.tasks.secrets_expire", "schedule": 60.0},
    "captures-policies": {"task": "portal.pipelines.tasks.captures_enforce_policies", "schedule": 10.0},
}

# The cache is shared by web and workers (refresh watches): Redis when the broker is Redis, else files under var/.
# It is best effort (portal.core.cache): while it is down, pages render without it.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CELERY_BROKER_URL,
                          "OPTIONS": REDIS_CLIENT_OPTIONS}}  # fmt: skip
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}  # fmt: skip

# --- PSTN: the SIP media application's handler (portal/pstn) ------------------------------------------------
# The secret the Lambda forwarder (deploy/sma_forwarder) signs invocations with; the handler refuses unsigned ones.
SMA_HANDLER_SECRET = os.environ.get("SMA_HANDLER_SECRET", "")
# Invocations per second the handler accepts from one address (fixed window, shared cache); more answer 429.
SMA_HANDLER_RATE_PER_SECOND = float(os.environ.get("SMA_HANDLER_RATE_PER_SECOND", "200"))
# How long the handler waits for CreateAttendee while a caller is being joined; past it the caller hears an apology.
# Sized against the SMA's own wait: it waits 5 s for its Lambda before invoking it again, and hangs up after 20 s
# (AWS: "Understanding timeouts and retries for the Amazon Chime SDK PSTN audio service"); the forwarder Lambda waits
# PORTAL_TIMEOUT_SECONDS (3 s) for the portal. 2 s leaves a second of that for the rest of the request.
PSTN_ATTENDEE_TIMEOUT_SECONDS = float(os.environ.get("PSTN_ATTENDEE_TIMEOUT_SECONDS", "2"))
# Wrong PINs across calls (portal.pstn.pin_limits): this many from one calling number, or to one dial-in number, in
# a window of PSTN_WRONG_PIN_WINDOW_MINUTES lock that number out of dial-in for as long again.
PSTN_WRONG_PINS_PER_CALLER = int(os.environ.get("PSTN_WRONG_PINS_PER_CALLER", "10"))
PSTN_WRONG_PINS_PER_DIAL_IN = int(os.environ.get("PSTN_WRONG_PINS_PER_DIAL_IN", "50"))
PSTN_WRONG_PIN_WINDOW_MINUTES = float(os.environ.get("PSTN_WRONG_PIN_WINDOW_MINUTES", "15"))
if min(PSTN_WRONG_PINS_PER_CALLER, PSTN_WRONG_PINS_PER_DIAL_IN) < 1 or PSTN_WRONG_PIN_WINDOW_MINUTES <= 0:
    raise ImproperlyConfigured("PSTN_WRONG_PINS_PER_* are at least 1; PSTN_WRONG_PIN_WINDOW_MINUTES is more than 0.")

# --- AWS ------------------------------------------------------------------------------------------------------
# Credentials and endpoints come from the standard AWS chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_ENDPOINT_URL,
# AWS_ENDPOINT_URL_<SERVICE>, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, ...), read by botocore itself.
AWS_REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
AWS_CONNECT_TIMEOUT = float(os.environ.get("AWS_CONNECT_TIMEOUT", "5"))
AWS_READ_TIMEOUT = float(os.environ.get("AWS_READ_TIMEOUT", "30"))
# The shared rate limiter (portal/aws/limiter.py): its schedule lives in this Redis (default: the broker, when the
# broker is Redis; otherwise in each process), and it runs every API at this fraction of AWS's published quota.
AWS_RATE_LIMIT_REDIS_URL = os.environ.get("AWS_RATE_LIMIT_REDIS_URL", "")
AWS_RATE_LIMIT_FRACTION = float(os.environ.get("AWS_RATE_LIMIT_FRACTION", "1"))

# --- Meeting events ---------------------------------------------------------------------------------------------
# The SQS queue every meeting the portal creates sends its events to (NotificationsConfiguration), read by the
# meeting events consumer in the worker tier. Empty: meetings are created without notifications.
MEETING_EVENTS_QUEUE_URL = os.environ.get("MEETING_EVENTS_QUEUE_URL", "")
# A queue message whose handler raises stays on the queue and comes back; received this many times and failing
# again, it is kept as a dead letter with the error.
MEETING_EVENTS_MAX_RECEIVES = int(os.environ.get("MEETING_EVENTS_MAX_RECEIVES", "5"))
# Capture pipelines: the sink buckets "Record this meeting" offers (empty: the buckets the account has, as the
# pipelines refresher last listed them), how long a presigned download link works, and the policies' defaults.
CAPTURE_SINK_BUCKETS = env_list("CAPTURE_SINK_BUCKETS", "")
CAPTURE_DOWNLOAD_URL_SECONDS = int(os.environ.get("CAPTURE_DOWNLOAD_URL_SECONDS", "300"))
CAPTURE_STOP_WHEN_EMPTY_MINUTES = int(os.environ.get("CAPTURE_STOP_WHEN_EMPTY_MINUTES", "10"))
CAPTURE_MAX_DURATION_MINUTES = int(os.environ.get("CAPTURE_MAX_DURATION_MINUTES", "240"))

# --- Refreshers (portal/core/refresh.py) ------------------------------------------------------------------------
# Beat starts a cycle of every refresher this often; a cycle still running makes the next tick skip.
REFRESH_TICK_SECONDS = float(os.environ.get("REFRESH_TICK_SECONDS", "1"))
REFRESH_LEASE_SECONDS = float(os.environ.get("REFRESH_LEASE_SECONDS", "60"))
