from django.utils.functional import SimpleLazyObject

from apps.notices.selectors import unread_count


def unread_notices(request):
    """The bell's count: one COUNT query, and only on pages that draw it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notices": 0}
    return {"unread_notices": SimpleLazyObject(lambda: unread_count(user))}
