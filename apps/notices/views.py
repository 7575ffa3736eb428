from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.notices import mailbox
from apps.notices.models import Notice, NoticePreference
from apps.notices.selectors import notices_of, unread_count
from apps.notices.services import (
    notice_mark_read,
    notices_mark_all_read,
    preference_of,
    preference_save,
)


@login_required
@require_GET
def page(request):
    notices = notices_of(request.user)
    if request.GET.get("show") == "unread":
        notices = notices.filter(read_at__isnull=True)
    paged = Paginator(notices, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "notices/page.html",
        {
            "page": paged,
            "unread": unread_count(request.user),
            "show": request.GET.get("show", "all"),
            "pref": preference_of(request.user),
            "kinds": Notice.Kind.choices,
            "email_choices": NoticePreference.Email.choices,
            "sink": mailbox.sink_enabled(),
        },
    )


@login_required
@require_GET
def bell(request):
    """The top bar's bell alone, for htmx to refresh it."""
    return render(request, "notices/_bell.html", {"unread_notices": unread_count(request.user)})


@login_required
@require_POST
def read(request, pk: int):
    notice = notices_of(request.user).filter(pk=pk).first()
    if notice is None:
        raise Http404("no such notice")  # another's notice is as absent as a missing one
    notice_mark_read(user=request.user, notice_id=pk)
    if request.POST.get("open") and notice.url and url_has_allowed_host_and_scheme(notice.url, None):
        return redirect(notice.url)
    return redirect("notices:page")


@login_required
@require_POST
def read_all(request):
    count = notices_mark_all_read(user=request.user)
    messages.success(request, f"{count} notice(s) marked read.")
    return redirect("notices:page")


@login_required
@require_POST
def preferences(request):
    muted = [kind for kind in Notice.Kind.values if kind not in request.POST.getlist("kinds")]
    preference_save(user=request.user, muted=muted, email=request.POST.get("email", ""))
    messages.success(request, "Notice preferences saved.")
    return redirect("notices:page")


@login_required
@require_GET
def mail(request):
    """What the demo's mail sink holds for the signed-in user's own address."""
    return render(
        request,
        "notices/mail.html",
        {
            "sink": mailbox.sink_enabled(),
            "address": request.user.email,
            "mails": mailbox.mail_to(request.user.email) if mailbox.sink_enabled() else [],
        },
    )
