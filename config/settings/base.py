"""Settings shared by every mode.

Everything that differs between a laptop and production comes from environment variables.
With nothing set, Modelyard runs on its embedded default: SQLite, and a broker on a SQLite file
of its own, both under ``var/`` in the project folder, so the first command works on a fresh machine.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
import plotly

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def owner_only(path: Path, mode: int = 0o700) -> None:
    """Give a file or folder of ours ``mode``: the platform's files are its user's alone, so that a
    sandboxed model, which runs as another user where it can, reads none of them."""
    if path.exists() and path.stat().st_uid == os.geteuid():
        path.chmod(mode)


owner_only(BASE_DIR / ".env", 0o600)  # it holds the secret key and the database's password
# An empty MODELYARD_VAR_DIR means "not set", not the current directory.
VAR_DIR = Path(env("MODELYARD_VAR_DIR", default="") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)
# Others may pass through (to a patched environment the sandbox runs on) but not list it; what
# lies in it is created for this user only (media, deployments, spool, broker, cache, database).
owner_only(VAR_DIR, 0o711)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.core",
    "apps.accounts",
    "apps.notices",
    "apps.jobs",
    "apps.registry",
    "apps.packaging",
    "apps.serving",
    "apps.deployments",
    "apps.sla",
    "apps.monitoring",
    "apps.libraries",
    "apps.kpis",
    "apps.dashboards",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "apps.accounts.context_processors.role",
                "apps.notices.context_processors.unread_notices",
            ],
        },
    },
]

# --- Database: PostgreSQL when DATABASE_URL is set, SQLite otherwise -------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'modelyard.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A worker and the web process write at the same time: wait for the lock instead of failing.
    # IMMEDIATE transactions and WAL stop "database is locked" between the web app and workers.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-modelyard.sqlite3")}
    # Readable by this user only (SQLite gives its WAL files the same mode): a sandboxed model
    # running as 'nobody' must not read the whole database.
    _sqlite = Path(DATABASES["default"]["NAME"])
    if _sqlite.parent.is_dir():
        os.close(os.open(_sqlite, os.O_CREAT | os.O_RDONLY, 0o600))
        for _path in (_sqlite, Path(f"{_sqlite}-wal"), Path(f"{_sqlite}-shm")):
            owner_only(_path, 0o600)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Seconds a connection is kept between requests (0: one per request). config/gunicorn.py turns it
# on for the web app, where a new PostgreSQL connection per request (a server process forked and
# authenticated) cost more than a light page; each one is checked before it is reused.
DB_CONN_MAX_AGE = env.int("MODELYARD_DB_CONN_MAX_AGE", default=0)
DATABASES["default"].update(CONN_MAX_AGE=DB_CONN_MAX_AGE, CONN_HEALTH_CHECKS=DB_CONN_MAX_AGE > 0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker and cache: Redis when REDIS_URL is set, an embedded SQLite broker otherwise ------
REDIS_URL = env("REDIS_URL", default="")


def embedded_broker_url(path: Path) -> str:
    """The embedded broker that needs no server: kombu's SQLAlchemy transport on a SQLite file of
    its own, in WAL mode with a busy timeout (config/broker.py, docs/adr/0005). The file holds the
    queued messages, so it is created for this user only (SQLite gives its -wal/-shm the same mode)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDONLY, 0o600))
    owner_only(path, 0o600)
    return f"modelyard+sqlite:///{path}"


if REDIS_URL:
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or embedded_broker_url(
        Path(env("MODELYARD_BROKER_FILE", default="") or VAR_DIR / "broker.sqlite3")
    )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# The Job table is the source of truth for progress; Celery's own results are not kept.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Files -----------------------------------------------------------------------------------
MEDIA_ROOT = Path(env("MODELYARD_MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
# Artifacts, data and packages are this user's alone; sandboxes get copies of what they need.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STATIC_URL = "/static/"
# Where `collectstatic` gathers static files for production (whitenoise serves them from there).
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default="") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Plotly's JavaScript comes from the installed plotly package: served by us, never from a CDN.
    ("vendor/plotly", Path(plotly.__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Where clients send predictions: the inference service (its own process; `manage.py inference`).
MODELYARD_INFERENCE_URL = env("MODELYARD_INFERENCE_URL", default="http://127.0.0.1:8100")
# Every predict request must present its endpoint's consumer key (always so in production); off,
# a key is checked only when one is sent.
MODELYARD_INFERENCE_REQUIRE_KEYS = env.bool("MODELYARD_INFERENCE_REQUIRE_KEYS", default=False)
# Most records one predict request may hold (a 413 beyond): the cost of a request's schema check
# and of its log rows stays bounded whatever its bytes hold (`{}` is a record of 2 bytes).
MODELYARD_INFERENCE_MAX_RECORDS = env.int("MODELYARD_INFERENCE_MAX_RECORDS", default=10_000)
# The bearer token of the Prometheus scraper; /metrics is off without one.
MODELYARD_METRICS_TOKEN = env("MODELYARD_METRICS_TOKEN", default="")
# Where inference workers keep the last route table (empty: under VAR_DIR, one per database).
MODELYARD_INFERENCE_ROUTES_FILE = env("MODELYARD_INFERENCE_ROUTES_FILE", default="")
# How long a client's X-Request-ID stays claimed on its endpoint (a reuse within it is a 409).
MODELYARD_REQUEST_ID_TTL_SECONDS = env.int("MODELYARD_REQUEST_ID_TTL_SECONDS", default=24 * 3600)

# --- What one request may carry (apps/accounts/limits.py), refused before it is read in full ----
# Largest accepted uploaded file (artifact, reference, holdout, batch input...), in megabytes:
# counted while it arrives, so the rest of a larger one is never stored.
MODELYARD_MAX_UPLOAD_MB = env.int("MODELYARD_MAX_UPLOAD_MB", default=200)
FILE_UPLOAD_HANDLERS = [
    "apps.accounts.limits.FileSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # larger uploads go to a temporary file, not memory
# Largest body that is not a file (JSON, form fields), in megabytes: the API's JSON and the pages' forms.
MODELYARD_MAX_BODY_MB = env.float("MODELYARD_MAX_BODY_MB", default=10)
DATA_UPLOAD_MAX_MEMORY_SIZE = int(MODELYARD_MAX_BODY_MB * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FILES = 10  # a registration sends three
# Deepest nesting of arrays and objects accepted in JSON (bodies and JSON-valued fields).
MODELYARD_MAX_JSON_DEPTH = env.int("MODELYARD_MAX_JSON_DEPTH", default=32)
# Outcomes per call, and the largest outcomes CSV (read a row at a time; apps/serving/outcomes.py).
MODELYARD_OUTCOMES_MAX_ROWS = env.int("MODELYARD_OUTCOMES_MAX_ROWS", default=100_000)
MODELYARD_OUTCOMES_MAX_MB = env.float("MODELYARD_OUTCOMES_MAX_MB", default=32)

# --- E-mail (monitoring alerts): printed to the console unless a backend is configured ------
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Modelyard <modelyard@localhost>")
# The file backend writes here (`DJANGO_EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend`);
# the demo does, and /notices/mail/ shows each user what was sent to them.
EMAIL_FILE_PATH = Path(env("EMAIL_FILE_PATH", default="") or VAR_DIR / "mail")
# How links in e-mails start: the address people open Modelyard at.
MODELYARD_BASE_URL = env("MODELYARD_BASE_URL", default="http://127.0.0.1:8000")

# Monitoring reads predictions received at least this long ago (see apps/monitoring/windows.py).
MODELYARD_MONITORING_SETTLE_SECONDS = env.float("MODELYARD_MONITORING_SETTLE_SECONDS", default=30.0)

# --- Auth ------------------------------------------------------------------------------------
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboards:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- Accounts: sign-in lockout, password rules, session and API-token lifetimes ----------------
# (One block on purpose: everything about who may sign in, and for how long, is here.)
# django-axes counts failed sign-ins (the sign-in page, the admin's and the API's token login) per
# user name and, separately, per client address. At MODELYARD_LOGIN_FAILURE_LIMIT failures within
# the cool-off, that name or address is refused until MODELYARD_LOGIN_COOLOFF_MINUTES have passed
# since its last counted failure. IT lifts a lockout early: `manage.py axes_reset_username NAME`,
# `axes_reset_ip ADDRESS`, or `axes_reset` for all.
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out name or address
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("MODELYARD_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("MODELYARD_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own, not the pair
# Attempts while locked out are refused without being counted, so the cool-off is not prolonged.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "apps.accounts.throttling.lockout_response"
AXES_CLIENT_IP_CALLABLE = "apps.accounts.throttling.client_address"
AXES_VERBOSE = False  # its start-up banner on every manage.py command; lockouts are still logged
# How many reverse proxies append to X-Forwarded-For in front of the web app (0: none, the
# connection's address is the client's). Set it behind a TLS proxy, or every sign-in shares one address.
MODELYARD_TRUSTED_PROXY_COUNT = env.int("MODELYARD_TRUSTED_PROXY_COUNT", default=0)

# Applied wherever a password is set: create_user, the admin, changepassword.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# A browser session ends after this many idle minutes, and in any case this many hours after
# sign-in (apps/accounts/middleware.py).
MODELYARD_SESSION_IDLE_MINUTES = env.int("MODELYARD_SESSION_IDLE_MINUTES", default=60)
MODELYARD_SESSION_MAX_HOURS = env.int("MODELYARD_SESSION_MAX_HOURS", default=12)
SESSION_COOKIE_AGE = MODELYARD_SESSION_MAX_HOURS * 3600
# Sessions are read from the cache (Redis in production) and written through to the database, so
# a page costs no session query; a session the cache lost is read from its row.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
MIDDLEWARE += [
    "apps.accounts.middleware.SessionTimeoutMiddleware",
    "apps.accounts.timezones.UserTimeZoneMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns a lockout into its page
]

# An API token works for this many days after it is issued; `modelyard login` issues a new one.
MODELYARD_API_TOKEN_DAYS = env.int("MODELYARD_API_TOKEN_DAYS", default=30)
# --- end of the accounts block -----------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's three, with JSON held to the size and depth limits above.
    "DEFAULT_PARSER_CLASSES": [
        "apps.accounts.api.parsers.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "apps.accounts.api.errors.exception_handler",
    # Throttles tell clients apart by the same address the sign-in lockout uses.
    "NUM_PROXIES": MODELYARD_TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Modelyard API",
    "DESCRIPTION": "Register, package, deploy and monitor models.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.accounts.api.schema.document_errors",  # every operation's error answers
    ],
    "ENUM_NAME_OVERRIDES": {
        # Jobs and package builds share one set of states; deployments have their own.
        "WorkStatusEnum": "apps.jobs.models.Job.Status",
        "DeploymentStatusEnum": "apps.deployments.models.Deployment.Status",
        "AdvisorySeverityEnum": "apps.core.severity.Severity",
        # Monitoring and KPI alerts share severities (one class); their people's actions differ.
        "AlertSeverityEnum": "apps.core.severity.AlertSeverity",
        "AlertActionEnum": "apps.monitoring.models.AlertAction.Kind",
        "KpiAlertActionEnum": "apps.kpis.models.KpiAlertAction.Kind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors": {"()": "config.logfilters.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # A 403 or other client error is one WARNING line, without the traceback Django attaches.
    "loggers": {"django.request": {"filters": ["client_errors"]}},
}

# --- Security headers and TLS (issue 12, point 9) ---------------------------------------------
# Kept as one block: the Content-Security-Policy (django-csp) and the TLS settings, read from the
# environment. On the embedded default (plain HTTP on 127.0.0.1) TLS is off; config/settings/
# production.py turns it on. docs/operations.md "Behind TLS" explains each variable.
INSTALLED_APPS += ["csp"]
MIDDLEWARE += ["csp.middleware.CSPMiddleware"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        # Only our own files run: no inline script, no event-handler attribute, no eval.
        "script-src": ["'self'"],
        # Stylesheets only from our files too (Plotly's own rules come from static/css/plotly.css,
        # see templates/_charts.html). Style *attributes* stay allowed: plotly.js writes them on
        # the SVG it draws (bold and italic text, colour bars). An attribute styles only its own
        # element and cannot select others to read them; its url()s are still held to img-src.
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        # data: for the heatmaps plotly.js paints into a PNG and Swagger UI's inline SVG icons.
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"


def proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto`` → Django's ``("HTTP_X_FORWARDED_PROTO", "https")``; empty → None."""
    if not name:
        return None
    if not name.replace("-", "").replace("_", "").isalnum():
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"DJANGO_SECURE_PROXY_SSL_HEADER must be a header name such as X-Forwarded-Proto, not {name!r}"
        )
    return ("HTTP_" + name.upper().replace("-", "_"), "https")


# A request counts as HTTPS when the proxy in front says so in this header. Set it only when that
# proxy always overwrites the header and is the only way in: anyone else could send it too.
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(env("DJANGO_SECURE_PROXY_SSL_HEADER", default=""))
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
# --- end of security headers and TLS -----------------------------------------------------------
