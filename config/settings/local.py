"""The embedded default a newcomer runs: debug on, everything on this machine."""

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)

# Mail is written to files under var/mail (EMAIL_FILE_PATH), never sent: each person reads what was
# sent to them at /notices/mail/. Set DJANGO_EMAIL_BACKEND for a real server.
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
