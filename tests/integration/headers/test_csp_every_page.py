"""Every page a signed-in user of each role reaches, found by following the links, htmx fragments
and GET forms from the home page over the demo's data (tests/integration/headers/site.py),
carries a strict Content-Security-Policy, and its HTML has no inline <script> (JSON data blocks
aside), no on*= handler and no javascript: URL. The anonymous login page too."""

import re
from collections import Counter, deque
from urllib.parse import urljoin, urlsplit

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import Resolver404, resolve

from tests.integration.headers.policy import policy_problems, scan
from tests.integration.headers.site import PASSWORD, demo, site  # noqa: F401

pytestmark = pytest.mark.django_db

# Pages of one kind (the same path with other ids or another query) visited at most this often;
# the admin's pages of one kind share one template.
PER_KIND, PER_ADMIN_KIND = 2, 1
NOT_FOLLOWED = ("/accounts/logout/", "/static/", "/media/")

# Pages each role must have reached, or the walk proves little.
MUST_REACH = {
    "dana": {
        "dashboards:home",
        "registry:model-list",
        "registry:model-detail",
        "registry:version-detail",
        "registry:register",
        "deployments:overview",
        "monitoring:overview",
        "monitoring:model",
        "monitoring:alert-detail",
        "monitoring:feature-panel",
        "kpis:list",
        "kpis:detail",
        "libraries:page",
        "serving:batch-jobs",
        "dashboards:sla",
        "swagger-ui",
        "accounts:tokens",
        "registry:job-progress",
    },
    "bea": {"dashboards:home", "kpis:list", "kpis:detail", "kpis:alert-list", "monitoring:alert-detail"},
    "ivan": {
        "dashboards:home",
        "libraries:page",
        "dashboards:sla",
        "monitoring:alert-detail",
        "admin:packaging_packagingpolicy_changelist",
    },
    "root": {
        "dashboards:home",
        "admin:index",
        "admin:registry_modelversion_change",
        "admin:auth_user_change",
    },
}


def kind_of(path: str) -> str:
    return re.sub(r"\d+", "N", path)


def view_name(path: str) -> str:
    try:
        match = resolve(path)
    except Resolver404:
        return path
    return match.view_name


def walk(client: Client, start: str = "/") -> tuple[dict[str, list[str]], set[str]]:
    """GET every internal page reachable from ``start``; problems per URL and the views reached."""
    problems: dict[str, list[str]] = {}
    reached: set[str] = set()
    seen: set[str] = set()
    per_kind: Counter = Counter()
    queue = deque([start])
    while queue:
        url = queue.popleft()
        parts = urlsplit(url)
        if parts.netloc or parts.scheme or not parts.path.startswith("/"):
            continue
        url = parts.path + (f"?{parts.query}" if parts.query else "")
        limit = PER_ADMIN_KIND if parts.path.startswith("/admin/") else PER_KIND
        if url in seen or parts.path.startswith(NOT_FOLLOWED) or per_kind[kind_of(parts.path)] >= limit:
            continue
        seen.add(url)
        per_kind[kind_of(parts.path)] += 1
        response = client.get(url)
        if response.status_code in (301, 302):
            queue.append(urljoin(url, response["Location"]))
            continue
        found = policy_problems(response.get("Content-Security-Policy"))
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            reached.add(view_name(parts.path))
            page = scan(response.content.decode())
            found += page.problems
            queue.extend(urljoin(url, link) for link in page.links)
        if found:
            problems[url] = found
    return problems, reached


def test_every_page_of_every_role_has_a_strict_policy_and_no_inline_script(site):  # noqa: F811
    failures = {}
    for username in ("dana", "mark", "bea", "ivan", "root"):
        client = Client()
        assert client.login(request=HttpRequest(), username=username, password=PASSWORD)  # axes needs one
        problems, reached = walk(client)
        missing = MUST_REACH.get(username, set()) - reached
        assert not missing, f"{username}'s walk never reached {sorted(missing)}; it reached {sorted(reached)}"
        failures.update({f"{username} {url}": found for url, found in problems.items()})

    anonymous = Client().get("/accounts/login/")
    failures.update({"anonymous /accounts/login/": policy_problems(anonymous.get("Content-Security-Policy"))})
    failures["anonymous /accounts/login/"] += scan(anonymous.content.decode()).problems
    failures = {where: found for where, found in failures.items() if found}
    assert not failures, "\n".join(f"{where}: {found}" for where, found in failures.items())
