"""The daily digest as it runs in production: beat's schedule names `notices.digest`, and a real
Celery worker, sent that task through the broker, mails each person who chose the digest once."""

import os
from pathlib import Path

import pytest
from django.utils import timezone

from apps.notices.models import Notice, NoticePreference
from apps.notices.services import preference_save
from config.celery import app as celery_app
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_beat_schedules_the_digest_and_a_worker_sends_it(celery_worker, make_user):
    entry = celery_app.conf.beat_schedule["notices.digest"]
    assert entry["task"] == "notices.digest"
    assert entry["schedule"].is_due(timezone.now() - timezone.timedelta(hours=1)).is_due

    own = make_user("dana")
    own.email = "dana@example.test"
    own.save()
    preference_save(user=own, muted=[], email=NoticePreference.Email.DIGEST)
    for n in range(3):
        Notice.objects.create(recipient=own, kind="alert", title=f"drift {n}", url="/monitoring/")

    celery_app.send_task(entry["task"], **entry.get("options", {}))
    wait_for(lambda: NoticePreference.objects.get(user=own).last_digest_at, timeout=60)
    assert Notice.objects.filter(recipient=own, emailed_at__isnull=True).count() == 0

    sent_at = NoticePreference.objects.get(user=own).last_digest_at
    Notice.objects.create(recipient=own, kind="alert", title="drift 4", url="/monitoring/")
    celery_app.send_task(entry["task"])
    log = Path(os.readlink(f"/proc/{celery_worker.pid}/fd/1"))  # the worker's own log file
    done = wait_for(
        lambda: [ln for ln in log.read_text().splitlines() if "notices.digest[" in ln and "succeeded" in ln][
            1:
        ],
        timeout=60,
    )
    assert done[0].endswith(": 0"), done  # the second run sent nothing: at most once a day
    assert NoticePreference.objects.get(user=own).last_digest_at == sent_at
