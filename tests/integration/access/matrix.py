"""Who may do what: every route of the URL configuration, with the access rule of each of its
methods. test_access_matrix.py asks every route as every role and checks the answer against this
table; a route missing here (or an entry naming no route) fails that test.

Adding a route? Add an entry to ROUTES under its name ("namespace:name", as ``reverse`` takes it):

    "api:model-detail": route("model", GET=Rule(TEAM_READ), PATCH=Rule(TEAM_EDIT, data={...})),

- ``route(kind)``: the kind of object the URL names (``pk``, ``version_pk``, ``osv_id``), one of the
  kinds world.py builds. Leave it out when the URL names none (lists, uploads); when the body or the
  query string names the object instead, give the rule its kind: ``Rule(..., kind="endpoint")``.
- The matrix always asks about team Aurora's object. The roles (world.py): ``own`` and ``other``
  are data scientists of Aurora and of Borealis; ``it``; ``sponsor`` is the business owner of
  Aurora's model, ``owner`` a business owner sponsoring nothing; ``admin``; ``anonymous``.
- Pick the policy that says who may use the method (below). If none fits, add one here rather than
  a special case in the test.
- ``data`` is the body: a valid one, so that the roles who may act get past validation (the access
  check is what is tested, not a 400). A callable gets the object asked about — or, to compare,
  a stand-in for one that does not exist — and, if it takes a second argument, the world.
  ``"login"`` sends a real username and password.
- ``today`` names the roles for which today's code answers something else, and says what; those
  cases are expected to fail (xfail, strict) until the issue that owns them is fixed. Remove the
  entry when it passes.

What the test calls each answer:
  allowed  2xx; a redirect that is not to the login page and carries no error message; or 400,
           405, 409, 422 (the access check passed; the input did not).
  denied   403, or a page's redirect with an error message (the page's way of refusing).
  hidden   404, and then the answer must equal the answer for an object that does not exist, so
           nothing tells "another team's" from "no such thing".
  login    anonymous: 401 from the API, a redirect to the login page from a page.
Two more checks on every answer: a role that may not see Aurora's data gets, for Aurora's object,
exactly the answer it gets for a missing one (whatever it is; for a body-named object, such a
refusal counts as "denied" or "hidden", whichever the policy says); and no answer names a team
whose data the role may not see.
"""

from dataclasses import dataclass, field
from typing import Any

from tests.integration.access.world import (
    FEATURES_CSV,
    named_file,
    osv_advisory_json,
    pip_audit_json,
)

ALLOWED, DENIED, HIDDEN, LOGIN = "allowed", "denied", "hidden", "login"


def policy(*, anonymous: str = LOGIN, **expected: str) -> dict[str, str]:
    roles = {"own", "other", "it", "sponsor", "owner", "admin"}
    assert set(expected) == roles, f"a policy names every role: {sorted(roles - set(expected))} missing"
    return {**expected, "anonymous": anonymous}


A, D, H = ALLOWED, DENIED, HIDDEN  # to keep the table of policies below readable

# --- policies: who may use a method (for an object, Aurora's) ----------------------------------
# Anyone, signed in or not (the login routes).
PUBLIC = policy(own=A, other=A, it=A, sponsor=A, owner=A, admin=A, anonymous=A)
# Every signed-in user; what each sees there is scoped (lists, home pages, shared advisories).
ANY_USER = policy(own=A, other=A, it=A, sponsor=A, owner=A, admin=A)
# IT's work: everyone else is refused.
IT_ONLY = policy(own=D, other=D, it=A, sponsor=D, owner=D, admin=A)
# What only IT sees (advisory import runs).
IT_SEES = policy(own=H, other=H, it=A, sponsor=H, owner=H, admin=A)
# Data scientists' and IT's pages (libraries, batch scoring): business owners find nothing there.
TECH_PAGES = policy(own=A, other=A, it=A, sponsor=H, owner=H, admin=A)
# Only data scientists register models.
DS_ONLY = policy(own=A, other=A, it=D, sponsor=D, owner=D, admin=A)
# Define KPIs at all: data scientists and the business owners who sponsor a model.
KPI_DEFINERS = policy(own=A, other=A, it=D, sponsor=A, owner=D, admin=A)

# Read a team's object: the team, IT, admins and the sponsor of its model; others find nothing.
TEAM_READ = policy(own=A, other=H, it=A, sponsor=A, owner=H, admin=A)
# A team itself: its members and IT.
TEAM_MEMBERS = policy(own=A, other=H, it=A, sponsor=H, owner=H, admin=A)
# A team's technical objects (jobs, batch jobs, patches): not for business owners.
TECH_READ = policy(own=A, other=H, it=A, sponsor=H, owner=H, admin=A)
# Operate a team's object: the team and IT (stages, builds, deployments, checks, alerts, outcomes).
TEAM_WORK = policy(own=A, other=H, it=A, sponsor=D, owner=H, admin=A)
# Technical work on a team's object (batch scoring on a page): the team and IT.
TECH_WORK = policy(own=A, other=H, it=A, sponsor=H, owner=H, admin=A)
# Change a team's own definitions (model details, monitor settings): the team, not IT.
TEAM_EDIT = policy(own=A, other=H, it=D, sponsor=D, owner=H, admin=A)
# Register a model in a team: its data scientists.
TEAM_REGISTER = policy(own=A, other=H, it=D, sponsor=H, owner=H, admin=A)
# IT decides on a team's object (approvals, validation overrides, SLOs): the team sees, IT acts.
IT_DECIDES = policy(own=D, other=H, it=A, sponsor=D, owner=H, admin=A)
# The same, for an object business owners do not see (library exceptions).
IT_DECIDES_TECH = policy(own=D, other=H, it=A, sponsor=H, owner=H, admin=A)
# KPIs are the business's: the team and the sponsor define them; IT reads them.
KPI_EDIT = policy(own=A, other=H, it=D, sponsor=A, owner=H, admin=A)
# KPI alerts: whoever may define the KPI, and IT.
KPI_ACT = policy(own=A, other=H, it=A, sponsor=A, owner=H, admin=A)
# One user's own object (API tokens): everyone else finds nothing.
USER_OWN = policy(own=A, other=H, it=H, sponsor=H, owner=H, admin=H)


@dataclass(frozen=True)
class Rule:
    policy: dict[str, str]
    data: Any = None  # the body; a callable gets the object asked about (see the docstring)
    query: Any = None  # the query string, as a dict or a callable like ``data``
    kind: str | None = None  # the object the body or query names, for a route whose URL names none
    multipart: bool = False  # API bodies are JSON unless they carry a file
    today: dict[str, str] = field(default_factory=dict)  # role → what today's code does instead


@dataclass(frozen=True)
class Entry:
    kind: str | None  # the object the URL names
    rules: dict[str, Rule]  # method → rule
    kwargs: dict[str, str] = field(default_factory=dict)  # fixed URL arguments (words, not objects)
    siblings: dict[str, str] = field(default_factory=dict)  # URL argument → kind, of the same team


def route(kind: str | None = None, *, kwargs=None, siblings=None, **rules: Rule) -> Entry:
    return Entry(kind, rules, kwargs or {}, siblings or {})


def files(**named: tuple[str, bytes]) -> dict:
    """Upload fields for a multipart body; call it inside ``data`` so each request gets fresh files."""
    return {field_name: named_file(filename, content) for field_name, (filename, content) in named.items()}


REASON = {"reason": "asked by the access matrix test"}
SLO = {"latency_percentile": 99, "latency_ms": 80, "availability_percent": 99.5}
CSV = ("rows.csv", FEATURES_CSV)
OUTCOMES_CSV = ("outcomes.csv", b"request_id,value\nmatrix-request-1,good\n")
PIP_AUDIT = ("pip-audit.json", pip_audit_json())
ADVISORY = ("advisory.json", osv_advisory_json())


def staging(endpoint) -> dict:
    return {"endpoint": endpoint.name, "environment": "staging"}


# Where today's code differs from the rule, name the case with ``today`` (none at the moment).

ROUTES: dict[str, Entry] = {
    # --- accounts and the API's own routes ------------------------------------------------------
    "accounts:login": route(GET=Rule(PUBLIC), POST=Rule(PUBLIC, data="login"), PUT=Rule(PUBLIC)),
    "accounts:logout": route(POST=Rule(PUBLIC)),
    "accounts:tokens": route(GET=Rule(ANY_USER), POST=Rule(ANY_USER, data={"name": "matrix"})),
    "accounts:settings": route(GET=Rule(ANY_USER), POST=Rule(ANY_USER, data={"time_zone": "Europe/Paris"})),
    "accounts:token-revoke": route(
        "token",
        POST=Rule(USER_OWN),
    ),
    # --- notices: each person's own; another's is as absent as a missing one, admins included --
    "notices:page": route(GET=Rule(ANY_USER)),
    "notices:bell": route(GET=Rule(ANY_USER)),
    "notices:read": route("notice", POST=Rule(USER_OWN)),
    "notices:read-all": route(POST=Rule(ANY_USER)),
    "notices:preferences": route(POST=Rule(ANY_USER, data={"kinds": ["alert"], "email": "never"})),
    "notices:mail": route(GET=Rule(ANY_USER)),
    "api:notice-list": route(GET=Rule(ANY_USER)),
    "api:notice-detail": route("notice", GET=Rule(USER_OWN)),
    "api:notice-read": route("notice", POST=Rule(USER_OWN)),
    "api:notice-read-all": route(POST=Rule(ANY_USER)),
    "api:api-root": route(GET=Rule(ANY_USER)),
    "api:me": route(GET=Rule(ANY_USER)),
    "api:server": route(GET=Rule(ANY_USER)),
    "api:token-obtain": route(POST=Rule(PUBLIC, data="login")),
    "schema": route(GET=Rule(ANY_USER)),
    "swagger-ui": route(GET=Rule(ANY_USER)),
    "api:team-list": route(GET=Rule(ANY_USER)),
    "api:team-detail": route("team", GET=Rule(TEAM_MEMBERS)),
    "api:audit-event-list": route(GET=Rule(ANY_USER)),
    "api:audit-event-detail": route("audit_event", GET=Rule(TEAM_READ)),
    "api:job-list": route(GET=Rule(ANY_USER)),
    "api:job-detail": route("job", GET=Rule(TECH_READ)),
    # --- registry -------------------------------------------------------------------------------
    "registry:model-list": route(GET=Rule(ANY_USER)),
    "registry:register": route(GET=Rule(DS_ONLY), POST=Rule(DS_ONLY)),
    "registry:model-detail": route("model", GET=Rule(TEAM_READ)),
    "registry:version-detail": route("version", GET=Rule(TEAM_READ)),
    "registry:version-stage": route("version", POST=Rule(TEAM_WORK, data={"stage": "staging"})),
    "registry:job-progress": route("job", GET=Rule(TECH_READ)),
    "api:model-list": route(
        GET=Rule(ANY_USER),
        POST=Rule(
            TEAM_REGISTER,
            kind="team",
            data=lambda team: {"name": "matrix-new", "task_type": "regression", "team": team.slug},
        ),
    ),
    "api:model-detail": route(
        "model", GET=Rule(TEAM_READ), PATCH=Rule(TEAM_EDIT, data={"description": "changed by the matrix"})
    ),
    "api:model-versions": route("model", GET=Rule(TEAM_READ)),
    "api:version-list": route(
        GET=Rule(ANY_USER),
        POST=Rule(
            TEAM_REGISTER,
            kind="team",
            data=lambda team: (
                files(artifact=("model.txt", b"not a model"), reference=CSV)
                | {"model": "matrix-new", "task_type": "binary_classification", "team": team.slug}
            ),
            multipart=True,
        ),
    ),
    "api:version-detail": route("version", GET=Rule(TEAM_READ)),
    "api:version-artifact": route("version", GET=Rule(TEAM_READ)),
    "api:version-reference": route("version", GET=Rule(TEAM_READ)),
    "api:version-stage": route("version", POST=Rule(TEAM_WORK, data={"stage": "staging"})),
    "api:version-package": route("version", POST=Rule(TEAM_WORK)),
    "api:version-profile": route("version", POST=Rule(TEAM_WORK)),
    # --- packaging ------------------------------------------------------------------------------
    "packaging:build": route("version", POST=Rule(TEAM_WORK)),
    "packaging:override": route("package", POST=Rule(IT_DECIDES, data=REASON)),
    "api:package-list": route(GET=Rule(ANY_USER)),
    "api:package-detail": route("package", GET=Rule(TEAM_READ)),
    "api:package-download": route("package", GET=Rule(TEAM_READ)),
    "api:package-override": route("package", POST=Rule(IT_DECIDES, data=REASON)),
    # --- deployments ----------------------------------------------------------------------------
    "deployments:overview": route(GET=Rule(ANY_USER)),
    "deployments:deploy": route(
        "version", POST=Rule(TEAM_WORK, data={"endpoint": "matrix-new", "environment": "staging"})
    ),
    "deployments:decide": route(
        "deployment", kwargs={"decision": "approve"}, POST=Rule(IT_DECIDES, data=REASON)
    ),
    "deployments:endpoint-action": route(
        "endpoint", kwargs={"action": "promote"}, POST=Rule(TEAM_WORK, data=REASON)
    ),
    "deployments:outcomes-upload": route(
        POST=Rule(
            TEAM_WORK,
            kind="endpoint",
            data=lambda endpoint: files(file=OUTCOMES_CSV) | staging(endpoint),
        ),
    ),
    "api:deployment-list": route(
        GET=Rule(ANY_USER),
        POST=Rule(
            TEAM_WORK,
            kind="version",
            data=lambda version: {"version": version.pk, "endpoint": "matrix-new", "environment": "staging"},
        ),
    ),
    "api:deployment-detail": route("deployment", GET=Rule(TEAM_READ)),
    "api:deployment-approve": route("deployment", POST=Rule(IT_DECIDES, data=REASON)),
    "api:deployment-reject": route("deployment", POST=Rule(IT_DECIDES, data=REASON)),
    "api:endpoint-list": route(GET=Rule(ANY_USER)),
    # Which features refuse out-of-range values: the team and IT; a sponsor sees, does not change.
    "api:endpoint-detail": route(
        "endpoint", GET=Rule(TEAM_READ), PATCH=Rule(TEAM_WORK, data={"refuse_outside_range": ["income"]})
    ),
    "api:endpoint-promote": route("endpoint", POST=Rule(TEAM_WORK, data=REASON)),
    # Consumer keys of the inference service: the team and IT; a sponsor sees the endpoint, not its keys.
    "api:endpoint-keys": route(
        "endpoint", GET=Rule(TEAM_WORK), POST=Rule(TEAM_WORK, data={"name": "matrix consumer"})
    ),
    "api:endpoint-revoke-key": route("endpoint_key", siblings={"pk": "endpoint"}, POST=Rule(TEAM_WORK)),
    "deployments:endpoint-keys": route(
        "endpoint", GET=Rule(TEAM_WORK), POST=Rule(TEAM_WORK, data={"name": "matrix consumer"})
    ),
    "deployments:endpoint-key-revoke": route(
        "endpoint_key", siblings={"pk": "endpoint"}, POST=Rule(TEAM_WORK)
    ),
    "api:endpoint-rollback": route("endpoint", POST=Rule(TEAM_WORK, data=REASON)),
    # --- serving: outcomes and batch scoring -----------------------------------------------------
    "api:outcomes": route(
        POST=Rule(
            TEAM_WORK,
            kind="endpoint",
            data=lambda endpoint: (
                staging(endpoint) | {"outcomes": [{"request_id": "matrix-request-1", "value": "good"}]}
            ),
        ),
    ),
    "serving:batch-jobs": route(
        GET=Rule(TECH_PAGES),
        POST=Rule(
            TECH_WORK, kind="endpoint", data=lambda endpoint: files(file=CSV) | {"endpoint": str(endpoint.pk)}
        ),
    ),
    "serving:batch-job-card": route("batch_job", GET=Rule(TECH_READ)),
    "serving:batch-job-download": route("batch_job", GET=Rule(TECH_READ)),
    "api:batch-job-list": route(
        GET=Rule(ANY_USER),
        POST=Rule(
            TEAM_WORK,
            kind="endpoint",
            data=lambda endpoint: files(file=CSV) | staging(endpoint),
            multipart=True,
        ),
    ),
    "api:batch-job-detail": route("batch_job", GET=Rule(TECH_READ)),
    "api:batch-job-download": route("batch_job", GET=Rule(TECH_READ)),
    # --- monitoring -----------------------------------------------------------------------------
    "monitoring:overview": route(GET=Rule(ANY_USER)),
    "monitoring:model": route("model", GET=Rule(TEAM_READ)),
    "monitoring:feature-panel": route("monitor", GET=Rule(TEAM_READ, query={"feature": "income"})),
    "monitoring:monitor-settings": route("monitor", GET=Rule(TEAM_EDIT), POST=Rule(TEAM_EDIT, data={})),
    "monitoring:run-now": route("monitor", POST=Rule(TEAM_WORK, data={"window": "day"})),
    "monitoring:alert-list": route(GET=Rule(ANY_USER)),
    "monitoring:alert-detail": route("alert", GET=Rule(TEAM_READ)),
    "monitoring:alert-action": route("alert", POST=Rule(TEAM_WORK, data={"action": "acknowledge"})),
    "monitoring:alert-explanations": route("alert", GET=Rule(TEAM_READ)),
    "monitoring:alert-explain": route("alert", POST=Rule(TEAM_WORK, data={})),
    "api:monitor-list": route(GET=Rule(ANY_USER)),
    "api:monitor-detail": route(
        "monitor", GET=Rule(TEAM_READ), PATCH=Rule(TEAM_EDIT, data={"enabled": False})
    ),
    "api:check-run-list": route(
        GET=Rule(ANY_USER),
        POST=Rule(TEAM_WORK, kind="monitor", data=lambda monitor: {"monitor": monitor.pk, "window": "day"}),
    ),
    "api:check-run-detail": route("check_run", GET=Rule(TEAM_READ)),
    "api:finding-list": route(GET=Rule(ANY_USER)),
    "api:finding-detail": route("finding", GET=Rule(TEAM_READ)),
    "api:alert-list": route(GET=Rule(ANY_USER)),
    "api:alert-detail": route("alert", GET=Rule(TEAM_READ)),
    "api:alert-act": route("alert", POST=Rule(TEAM_WORK, data={"action": "acknowledge"})),
    "api:alert-explanations": route("alert", GET=Rule(TEAM_READ), POST=Rule(TEAM_WORK, data={})),
    "api:alert-explanation": route("alert", siblings={"analysis_id": "analysis"}, GET=Rule(TEAM_READ)),
    # --- libraries ------------------------------------------------------------------------------
    "libraries:page": route(GET=Rule(TECH_PAGES)),
    "libraries:advisory": route("advisory", GET=Rule(TECH_PAGES)),
    "libraries:export-csv": route(GET=Rule(TECH_PAGES)),
    "libraries:approve": route(
        POST=Rule(IT_ONLY, kind="library_finding", data=lambda finding: {"finding": [str(finding.pk)]})
    ),
    "libraries:approve-all": route(
        POST=Rule(IT_ONLY, kind="library_finding", data=lambda finding: {"package": finding.package})
    ),
    "libraries:advisories-upload": route(POST=Rule(IT_ONLY, data=lambda _: files(archive=ADVISORY))),
    "libraries:pip-audit-upload": route(
        POST=Rule(
            IT_ONLY,
            data=lambda _: files(report=PIP_AUDIT),
        )
    ),
    "libraries:patch-detail": route("patch", GET=Rule(TECH_READ)),
    "libraries:patch-status": route("patch", GET=Rule(TECH_READ)),
    "api:advisory-list": route(GET=Rule(ANY_USER)),
    "api:advisory-detail": route("advisory", GET=Rule(ANY_USER)),
    "api:advisory-import-": route(POST=Rule(IT_ONLY, data=lambda _: files(archive=ADVISORY), multipart=True)),
    "api:advisory-import-list": route(GET=Rule(ANY_USER)),
    "api:advisory-import-detail": route("advisory_import", GET=Rule(IT_SEES)),
    "api:library-finding-list": route(GET=Rule(ANY_USER)),
    "api:library-finding-export": route(GET=Rule(ANY_USER)),
    # The API shows a sponsor the findings and reports of the model they sponsor; the library page
    # shows business owners nothing. Neither crosses a team, so both are kept as they are.
    "api:library-finding-detail": route("library_finding", GET=Rule(TEAM_READ)),
    "api:library-rule-list": route(
        GET=Rule(ANY_USER), POST=Rule(IT_ONLY, data={"package": "rightpad", "rule": "blocked", "reason": "x"})
    ),
    "api:library-rule-detail": route(
        "library_rule",
        GET=Rule(ANY_USER),
        PUT=Rule(IT_ONLY, data={"package": "leftpad", "rule": "blocked", "reason": "still"}),
        PATCH=Rule(IT_ONLY, data={"reason": "still blocked"}),
        DELETE=Rule(IT_ONLY),
    ),
    "api:library-exception-list": route(
        GET=Rule(ANY_USER),
        POST=Rule(
            IT_ONLY,
            kind="team",
            data=lambda team, world: {
                "rule": world.target("library_rule").pk,
                "team": team.pk,
                "reason": "asked by the access matrix test",
                "expires_at": "2099-01-01T00:00:00Z",
            },
        ),
    ),
    "api:library-exception-detail": route(
        "library_exception", GET=Rule(TECH_READ), DELETE=Rule(IT_DECIDES_TECH)
    ),
    "api:pip-audit-report-list": route(
        GET=Rule(ANY_USER),
        POST=Rule(
            TEAM_WORK,
            kind="version",
            data=lambda version: files(report=PIP_AUDIT) | {"version": version.pk},
            multipart=True,
        ),
    ),
    "api:pip-audit-report-detail": route("pip_audit_report", GET=Rule(TEAM_READ)),
    # --- KPIs -----------------------------------------------------------------------------------
    "kpis:list": route(GET=Rule(ANY_USER)),
    "kpis:create": route(GET=Rule(KPI_DEFINERS), POST=Rule(KPI_DEFINERS, data={})),
    "kpis:detail": route("kpi", GET=Rule(TEAM_READ)),
    "kpis:edit": route("kpi", GET=Rule(KPI_EDIT), POST=Rule(KPI_EDIT, data={})),
    "kpis:alert-list": route(GET=Rule(ANY_USER)),
    "kpis:alert-act": route("kpi_alert", POST=Rule(KPI_ACT, data={"action": "acknowledge"})),
    "api:kpi-list": route(
        GET=Rule(ANY_USER),
        POST=Rule(
            KPI_EDIT,
            kind="model",
            data=lambda model: {
                "model": model.pk,
                "name": "matrix share",
                "endpoint": model.name.replace("-model", "-live"),
                "environment": "staging",
                "kind": "share",
                "params": {"condition": 'prediction == "good"'},
            },
        ),
    ),
    "api:kpi-detail": route(
        "kpi",
        GET=Rule(TEAM_READ),
        PUT=Rule(KPI_EDIT, data={"description": "changed by the matrix"}),
        PATCH=Rule(KPI_EDIT, data={"description": "changed by the matrix"}),
        DELETE=Rule(KPI_EDIT),
    ),
    "api:kpi-points": route("kpi", GET=Rule(TEAM_READ)),
    "api:kpi-impact": route("kpi", GET=Rule(TEAM_READ)),
    "api:kpi-alert-list": route(GET=Rule(ANY_USER)),
    "api:kpi-alert-detail": route("kpi_alert", GET=Rule(TEAM_READ)),
    "api:kpi-alert-act": route("kpi_alert", POST=Rule(KPI_ACT, data={"action": "acknowledge"})),
    # --- dashboards and service levels ----------------------------------------------------------
    "dashboards:home": route(GET=Rule(ANY_USER)),
    "dashboards:sla": route(GET=Rule(TEAM_READ, kind="endpoint", query=staging)),
    "dashboards:slo-update": route("endpoint", POST=Rule(IT_DECIDES, data=SLO)),
    "api:sla-series": route(GET=Rule(TEAM_READ, kind="endpoint", query=staging)),
    "api:sla-workers": route(GET=Rule(IT_ONLY)),
    "api:endpoint-slo": route("endpoint", GET=Rule(TEAM_READ), PUT=Rule(IT_DECIDES, data=SLO)),
}
