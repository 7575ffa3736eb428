from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from apps.accounts.services import TokenExpired, token_authenticate


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>`` (or ``Bearer <key>``) with a hashed, revocable token."""

    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Authorization header must be 'Token <key>'."))
        try:
            user = token_authenticate(header[1].decode(errors="replace"))
        except TokenExpired as exc:
            raise exceptions.AuthenticationFailed(
                f"{exc}: run `modelyard login` again for a new one (or create one on the API tokens page)."
            ) from exc
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API token."))
        return user, None

    def authenticate_header(self, request):
        return "Token"
