"""Pages: role home pages, model and version pages, and that lists don't turn into N+1 queries."""

import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.roles import Role
from apps.registry.services import Registration, version_register

pytestmark = pytest.mark.django_db


def _register(user, name, model_bytes, csv_bytes):
    return version_register(
        user=user,
        reg=Registration(
            model_name=name,
            task_type="binary_classification",
            artifact=io.BytesIO(model_bytes),
            artifact_filename=f"{name}.joblib",
            reference=io.BytesIO(csv_bytes),
            reference_filename="train.csv",
            target="Status",
        ),
    )


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_list_pages_do_not_grow_queries_with_models(client, make_user, credit_model_bytes, credit_csv_bytes):
    dana = make_user("dana")
    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    _register(dana, "m1", credit_model_bytes, credit_csv_bytes)
    client.force_login(ivan)
    few = {url: _queries(client, url) for url in ("/", "/models/")}
    for i in range(2, 7):
        _register(dana, f"m{i}", credit_model_bytes, credit_csv_bytes)
    many = {url: _queries(client, url) for url in ("/", "/models/")}
    assert many == few


def test_version_page_shows_schema_profile_and_progress(
    client, make_user, credit_model_bytes, credit_csv_bytes
):
    dana = make_user("dana")
    version = _register(dana, "credit", credit_model_bytes, credit_csv_bytes)
    client.force_login(dana)
    page = client.get(f"/versions/{version.pk}/").content.decode()
    assert "Income" in page and "unsafe format" in page
    assert "registry.profile_reference" in page  # the job's progress bar, polled by htmx
    assert "The profile is being computed" in page
    from apps.registry.services import version_profile_compute

    version_profile_compute(version=version)
    page = client.get(f"/versions/{version.pk}/?feature=Home").content.decode()
    assert 'id="profile-chart" data-testid="profile-chart" data-figure="' in page
    assert "vendor/plotly/plotly.min.js" in page and "js/charts.js" in page
    assert client.get("/static/vendor/plotly/plotly.min.js").status_code == 200


def test_stage_form_records_who_and_why(client, make_user, credit_model_bytes, credit_csv_bytes):
    dana = make_user("dana")
    version = _register(dana, "credit", credit_model_bytes, credit_csv_bytes)
    client.force_login(dana)
    response = client.post(f"/versions/{version.pk}/stage/", {"stage": "staging", "reason": "first look"})
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.stage == "staging"
    page = client.get(f"/models/{version.model.pk}/").content.decode()
    assert "version.stage_changed" in page and "first look" in page


def test_register_page_is_for_data_scientists(client, make_user):
    client.force_login(make_user("bea", Role.BUSINESS_OWNER, team=None))
    assert client.get("/models/register/").status_code == 403
    client.force_login(make_user("dana"))
    assert client.get("/models/register/").status_code == 200


def test_business_owner_home_lists_sponsored_models_only(
    client, make_user, credit_model_bytes, credit_csv_bytes
):
    dana = make_user("dana")
    bea = make_user("bea", Role.BUSINESS_OWNER, team=None)
    sponsored = _register(dana, "sponsored-model", credit_model_bytes, credit_csv_bytes).model
    _register(dana, "other-model", credit_model_bytes, credit_csv_bytes)
    sponsored.business_owner = bea
    sponsored.save()
    client.force_login(bea)
    page = client.get("/").content.decode()
    assert "sponsored-model" in page and "other-model" not in page


def test_openapi_schema_and_swagger_are_served_locally(client, make_user):
    client.force_login(make_user("dana"))
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/versions/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    # Every script and stylesheet comes from our own static files, none from another host.
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', docs)
    assert external == []


def test_version_list_api_does_not_query_per_version(
    make_user, api_for, credit_model_bytes, credit_csv_bytes
):
    dana = make_user("dana")
    api = api_for(dana)
    _register(dana, "m1", credit_model_bytes, credit_csv_bytes)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/v1/versions/").status_code == 200
        return len(ctx.captured_queries)

    count()  # the token's first use is written down (then at most once a minute)
    few = count()
    for i in range(2, 6):
        _register(dana, f"m{i}", credit_model_bytes, credit_csv_bytes)
    assert count() == few
