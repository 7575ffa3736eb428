"""The batch scoring page: nav entry, submit form, a card per job with its progress bar, scoping."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.roles import Role
from apps.serving.models import BatchJob
from tests.integration.serving_batch.conftest import upload

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_submit_on_the_page_and_follow_the_card(live_endpoint, batch_input, make_user):
    dana = logged_in(get_user_model().objects.get(username="dana"))
    page = dana.get("/batch-jobs/", {"endpoint": live_endpoint.endpoint_id})
    html = page.content.decode()
    assert page.status_code == 200 and 'href="/batch-jobs/">Batch scoring</a>' in html
    assert f'<option value="{live_endpoint.endpoint_id}" selected>credit-risk (staging)</option>' in html

    missing = dana.post(
        "/batch-jobs/",
        {
            "file": upload("a.csv", batch_input.drop(columns=["Age"]).to_csv(index=False).encode()),
            "endpoint": live_endpoint.endpoint_id,
        },
    )
    assert (
        missing.status_code == 200
        and "the file has no column for the features Age" in missing.content.decode()
    )
    assert not BatchJob.objects.exists()

    sent = dana.post(
        "/batch-jobs/",
        {
            "file": upload("a.csv", batch_input.to_csv(index=False).encode()),
            "endpoint": live_endpoint.endpoint_id,
            "chunk_size": 500,
        },
        follow=True,
    )
    batch = BatchJob.objects.get()
    assert f"Batch job {batch.pk} queued: 1,250 rows." in sent.content.decode()
    card = dana.get(f"/batch-jobs/{batch.pk}/card/").content.decode()
    assert 'data-status="queued"' in card and f"/batch-jobs/{batch.pk}/card/" in card  # polls itself
    assert 'data-testid="job-progress"' in card and "0/3 chunks" in card

    mark = logged_in(make_user("mark", team="Customer Insights"))
    assert mark.get(f"/batch-jobs/{batch.pk}/card/").status_code == 404
    assert mark.get(f"/batch-jobs/{batch.pk}/download/").status_code == 404
    assert "a.csv" not in mark.get("/batch-jobs/").content.decode()
    bea = logged_in(make_user("bea", Role.BUSINESS_OWNER, team=None))
    assert bea.get("/batch-jobs/").status_code == 404
    assert "Batch scoring" not in bea.get("/deployments/").content.decode()
    ivan = logged_in(make_user("ivan", Role.IT_OPERATOR, team=None))
    assert "a.csv" in ivan.get("/batch-jobs/").content.decode()
