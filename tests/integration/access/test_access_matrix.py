"""The access matrix: every page and API route, asked by every role about team Aurora's objects,
answers what matrix.py says (allowed, denied, hidden or login); a hidden object answers exactly as
a missing one does; and no answer shows a team's data to someone outside it.

Each request runs in a transaction that is rolled back, so one role's POST or DELETE never changes
what the next role sees; the world (world.py) is built once for the module and rolled back after."""

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.integration.access.asking import FOUND, Answer, ask, difference, normalised, outcome, refusal
from tests.integration.access.matrix import DENIED, HIDDEN, ROUTES
from tests.integration.access.world import (
    KINDS,
    ROLE_WORDS,
    ROLES,
    SEES,
    SHARED_KINDS,
    TEAMS,
    World,
    build_world,
)

WHERE = "tests/integration/access/matrix.py"


# --- the guards: the table and the URL configuration agree ---------------------------------------


def test_every_route_has_an_entry():
    missing = []
    for name, found in sorted(FOUND.items()):
        entry = ROUTES.get(name)
        for method in sorted(found.methods - set(entry.rules if entry else ())):
            missing.append(f"{name} {method} (/{found.pattern})")
    assert not missing, (
        f"Routes without an access rule: add each to ROUTES in {WHERE} with the policy that says "
        "who may use it (the module's docstring shows how):\n  " + "\n  ".join(missing)
    )


def test_every_entry_names_a_route():
    stale = []
    for name, entry in sorted(ROUTES.items()):
        found = FOUND.get(name)
        if found is None:
            stale.append(f"{name}: there is no route of this name")
            continue
        for method in sorted(set(entry.rules) - found.methods - found.optional):
            stale.append(f"{name} {method}: the view does not answer {method}")
        named = set(entry.kwargs) | set(entry.siblings)
        for kwarg in sorted(named - set(found.kwargs)):
            stale.append(f"{name}: the URL has no argument '{kwarg}'")
        if set(found.kwargs) - named and entry.kind is None:
            stale.append(
                f"{name}: the URL names an object ({', '.join(found.kwargs)}); give the entry its kind"
            )
        for method, rule in entry.rules.items():
            if rule.kind and entry.kind:
                stale.append(f"{name} {method}: the URL names the object already; drop the rule's kind")
        kinds = [entry.kind, *entry.siblings.values(), *(rule.kind for rule in entry.rules.values())]
        for kind in kinds:
            if kind is not None and kind not in KINDS:
                stale.append(f"{name}: world.py builds no '{kind}' (it builds {', '.join(KINDS)})")
    assert not stale, f"Entries in {WHERE} that do not match the URL configuration:\n  " + "\n  ".join(stale)


# --- asking ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        built = build_world()
        for role, user in built.users.items():
            client = Client()
            client.force_login(user)  # one session per role, reused by every page request
            built.sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
        yield built
        transaction.set_rollback(True)


# --- the matrix -----------------------------------------------------------------------------------


def cases():
    for name, entry in ROUTES.items():
        for method, rule in entry.rules.items():
            for role in ROLES:
                marks = (
                    [pytest.mark.xfail(strict=True, reason=rule.today[role])] if role in rule.today else []
                )
                yield pytest.param(name, method, role, id=f"{name} {method} {role}", marks=marks)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "role"), list(cases()))
def test_access(world, name, method, role):
    entry, rule = ROUTES[name], ROUTES[name].rules[method]
    assert name in FOUND, f"{name} is no route (see test_every_entry_names_a_route)"
    kind = entry.kind or rule.kind
    target = world.target(kind) if kind else None
    answer = ask(world, name, method, role, target)
    got = outcome(answer, role)
    if target is not None and role != "anonymous":
        got = _against_a_missing_object(world, name, method, role, kind, answer, got)
    assert got == rule.policy[role], (
        f"{name} {method} as {ROLE_WORDS[role]}: expected {rule.policy[role]}, got {got} — {answer}"
    )
    shown = normalised(answer, target)[2] if target is not None else answer.text
    leaked = [team for team in TEAMS if team not in SEES[role] and team in shown.lower()]
    assert not leaked, f"{name} {method} as {ROLE_WORDS[role]} shows {', '.join(leaked)}'s data — {answer}"


def _against_a_missing_object(world, name, method, role, kind, answer: Answer, got: str) -> str:
    """Ask again about an object that does not exist. Where the role may not see Aurora's object
    (or got a 404), the two answers must be the same. Where the body named the object (not the URL),
    a refusal the same as the missing object's is what "hidden" means there."""
    rule = ROUTES[name].rules[method]
    in_url = ROUTES[name].kind is not None
    unseen = kind not in SHARED_KINDS and "aurora" not in SEES[role]
    if in_url and got != HIDDEN and not unseen:
        return got
    target, missing = world.target(kind), World.missing(kind)
    ours = normalised(answer, target, missing)
    theirs = normalised(ask(world, name, method, role, missing), target, missing)
    assert ours == theirs or not (got == HIDDEN or unseen), (
        f"{name} {method} as {ROLE_WORDS[role]}: Aurora's {kind} answers differently from one that "
        f"does not exist, which tells that it exists.\n{difference(ours, theirs)}"
    )
    if ours == theirs and not in_url and refusal(answer, got):
        # Told nothing about the object it named: "no such thing you can see" and "you may not"
        # are equally right.
        expected = rule.policy[role]
        return expected if expected in (DENIED, HIDDEN) else HIDDEN
    return got


# --- messages ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("via", ["api", "page"])
def test_a_taken_endpoint_name_does_not_tell_whose_it_is(world, via):
    """Borealis deploys its own version to the name Aurora's endpoint holds. The refusal may say the
    name is not available; it must not say that another team holds it."""
    version = world.objects[("borealis", "version")]
    taken = world.target("endpoint").name
    if via == "api":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['other']}")
        response = client.post(
            "/api/v1/deployments/",
            {"version": version.pk, "endpoint": taken, "environment": "staging"},
            format="json",
        )
        text = response.content.decode()
    else:
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions["other"]
        response = client.post(
            reverse("deployments:deploy", args=[version.pk]), {"endpoint": taken, "environment": "staging"}
        )
        text = " ".join(str(m.message) for m in get_messages(response.wsgi_request))
    assert response.status_code in (302, 400) and text, "the deployment should be refused with a reason"
    told = text.replace(taken, "<name>").lower()
    assert "team" not in told and "aurora" not in told, f"the refusal tells whose the name is: {text}"
