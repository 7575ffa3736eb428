from smtplib import SMTPException

from celery import shared_task
from django.db import OperationalError

from apps.notices.services import digests_send, notice_email


@shared_task(
    name="notices.email",
    autoretry_for=(SMTPException, OSError, OperationalError),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=8,
    soft_time_limit=60,
    time_limit=90,
)
def email_notice(notice_id: int) -> None:
    notice_email(notice_id=notice_id)


@shared_task(name="notices.digest", soft_time_limit=600, time_limit=660)
def digest() -> int:
    return digests_send()
