from django.db.models import QuerySet

from apps.notices.models import Notice


def notices_of(user) -> QuerySet:
    """A user's own notices, newest first: nobody sees another's, admins included."""
    if not user.is_authenticated:
        return Notice.objects.none()
    return Notice.objects.filter(recipient=user)


def unread_count(user) -> int:
    return notices_of(user).filter(read_at__isnull=True).count()
