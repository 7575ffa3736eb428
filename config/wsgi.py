import os

from django.core.wsgi import get_wsgi_application

from apps.packaging.sandbox.isolation import forbid_inspection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_wsgi_application()
forbid_inspection()  # a sandbox running as this user cannot read this process's secrets via /proc
