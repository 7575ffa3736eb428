"""Test settings: the services configured in the environment (PostgreSQL and Redis in CI), kept
apart from the demo's data: their own media folder, broker file or Redis database."""

from urllib.parse import urlparse

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import (
    CELERY_BROKER_URL,
    DATABASES,
    REDIS_URL,
    VAR_DIR,
    embedded_broker_url,
    env,
)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = VAR_DIR / "test-media"

# A Celery worker started by the tests is told the test database's name through this variable.
if env("MODELYARD_TEST_DB_NAME", default=""):
    DATABASES["default"]["NAME"] = env("MODELYARD_TEST_DB_NAME")

if REDIS_URL:
    # Database 15 of the same Redis: the tests never consume the demo's messages.
    _test_broker = urlparse(REDIS_URL)._replace(path="/15").geturl()
    CELERY_BROKER_URL = env("MODELYARD_TEST_BROKER_URL", default=_test_broker)
else:
    CELERY_BROKER_URL = embedded_broker_url(VAR_DIR / "test-broker.sqlite3")
