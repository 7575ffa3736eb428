"""Schemathesis against the live OpenAPI schema (issue 13): every operation of /api/schema/, fetched
with an API token, is called with generated requests, valid and invalid, and no answer may be a 5xx
or differ from what the schema documents (status code, content type, headers, body).

The world is access/world.py's (two teams with one of every object), built once and rolled back
after; every generated request runs in a savepoint that is rolled back too, so a DELETE or a revoke
never changes what the next request finds. Requests go through the WSGI application in this process.
Generation is derandomized (hypothesis derives its seed from the test), so every run asks the same
questions; MAX_EXAMPLES bounds the run's length."""

import time

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.access.world import build_world

MAX_EXAMPLES = 10  # per operation, per kind of path parameters, per mode
# Not checked: negative_data_rejection and positive_data_acceptance, which ask that the server
# accept exactly what the schema allows. Ours is lenient where that helps clients (`limit=false`
# falls back to the default page) and stricter where a schema cannot say why (a version without a
# package cannot be deployed, another team's object does not exist).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
# Path parameters that do not name their object's kind the way world.py does.
KINDS = {"advisories": "advisory", "analysis_id": "analysis", "key_pk": "endpoint_key"}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


@pytest.fixture
def api_schema(world, db):
    """The schema as /api/schema/ serves it to an admin's token. Django closes the database connection
    at the end of each request it handles; here that would end the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/schema/?format=json", get_wsgi_application(), headers=auth(world)
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def auth(world) -> dict:
    return {"Authorization": f"Token {world.tokens['admin']}"}


def world_parameters(world, operation) -> dict | None:
    """The path parameters that name the world's objects of this operation, or None when it has none:
    generated ids almost never exist, so each operation is also asked about real objects."""
    names = [p.name for p in operation.path_parameters]
    if not names:
        return None
    resource = operation.path.split("/")[3]  # /api/v1/<resource>/{id}/...
    found = {}
    for name in names:
        kind = KINDS.get(name) or KINDS.get(resource) or resource.removesuffix("s").replace("-", "_")
        target = world.target(kind)
        found[name] = target.osv_id if name == "osv_id" else target.pk
    return found


def test_every_operation_answers_as_its_schema_says(world, api_schema):
    started, cases, failures = time.monotonic(), 0, []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        real = world_parameters(world, operation)
        for fixed in [None, real] if real else [None]:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
                @settings(
                    max_examples=MAX_EXAMPLES,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],  # report, don't shrink
                    suppress_health_check=list(HealthCheck),
                )
                def ask(case):
                    nonlocal cases
                    cases += 1
                    with transaction.atomic():
                        response = case.call(headers=auth(world))
                        try:
                            case.validate_response(response, checks=CHECKS, headers=auth(world))
                        finally:
                            transaction.set_rollback(True)

                try:
                    ask()
                except Unsatisfiable:
                    pass  # nothing to make invalid: no parameters and no body
                except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a group
                    where = "the world's objects" if fixed else "generated ids"
                    failures.append(f"{operation.label} ({mode.value}, {where}):\n{exc}")
    took = time.monotonic() - started
    print(f"schemathesis: {cases} requests in {took:.0f}s, {len(failures)} failures")
    assert not failures, f"{len(failures)} operations answered against their schema:\n\n" + "\n\n".join(
        failures
    )
