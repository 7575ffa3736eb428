import os

from django.core.asgi import get_asgi_application

from apps.packaging.sandbox.isolation import forbid_inspection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_asgi_application()
forbid_inspection()  # a sandbox running as this user cannot read this process's secrets via /proc
