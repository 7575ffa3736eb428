"""Small helpers that every app's pages share."""

from django.core.exceptions import ValidationError


def error_text(exc) -> str:
    """A ValidationError or PermissionDenied as one sentence for a page message."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
    return " ".join(getattr(exc, "messages", [str(exc)]))
