from apps.accounts.access import primary_role


def role(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"role": None}
    return {"role": primary_role(user)}
