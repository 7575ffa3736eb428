import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.text import slugify


class Team(models.Model):
    """One data-science group. Models belong to a team; so do data scientists."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.name)
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.name


TOKEN_PREFIX = "my_"


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_expiry():
    """When a token issued now stops working: ``MODELYARD_API_TOKEN_DAYS`` from now."""
    return timezone.now() + timedelta(days=settings.MODELYARD_API_TOKEN_DAYS)


class ApiToken(models.Model):
    """An API token for the client. Only its SHA-256 is stored; the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(default=token_expiry, help_text="The token is refused from then on")

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @staticmethod
    def generate_key() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    def __str__(self) -> str:
        return f"{self.user} · {self.name} ({self.prefix}…)"


class Profile(models.Model):
    """What one person sets for themselves. Blank time zone: the site's (``TIME_ZONE``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    time_zone = models.CharField(max_length=64, blank=True, help_text="IANA name, e.g. Europe/Paris")

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone or 'site time zone'})"
