"""Demo users, teams and models, registered through the same services a person would use."""

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
from django.conf import settings
from django.http import Http404

from apps.accounts.roles import Role
from apps.accounts.services import user_create
from apps.demo import training
from apps.demo.examples import write_examples
from apps.registry.models import RegisteredModel, Stage
from apps.registry.services import Registration, version_register, version_set_stage

log = logging.getLogger(__name__)

DEMO_PASSWORD = "modelyard-demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    team: str | None
    what: str


USERS = [
    DemoUser("dana", Role.DATA_SCIENTIST, "Credit Risk", "data scientist, Credit Risk team"),
    DemoUser("mark", Role.DATA_SCIENTIST, "Customer Insights", "data scientist, Customer Insights team"),
    DemoUser("ivan", Role.IT_OPERATOR, None, "IT operator, every model"),
    DemoUser("bea", Role.BUSINESS_OWNER, None, "business owner, sponsors the credit model"),
    DemoUser("admin", Role.ADMIN, None, "administrator"),
]


def data_dir() -> Path:
    return Path(settings.BASE_DIR).parent / "shared" / "data"


DEMO_MAIL_DOMAIN = "example.test"  # reserved: nothing is ever delivered there


def seed_users() -> dict:
    """The demo's people, each with an address (dana@example.test): the demo writes mail to files
    and /notices/mail/ shows each person theirs. Each team gets a team mailbox as its channel, so
    the team's deliveries do not repeat the personal notices its members choose."""
    from apps.monitoring.models import NotificationChannel

    users = {}
    for u in USERS:
        email = f"{u.username}@{DEMO_MAIL_DOMAIN}"
        user = user_create(
            username=u.username, role=u.role, team_name=u.team, password=DEMO_PASSWORD, email=email
        )
        if user.email != email:  # a database seeded before the demo gave addresses
            user.email = email
            user.save(update_fields=["email"])
        users[u.username] = user
    for user in users.values():
        for team in user.teams.all():
            NotificationChannel.objects.get_or_create(
                team=team,
                name="team mailbox",
                defaults={"emails": [f"{team.slug}-team@{DEMO_MAIL_DOMAIN}"]},
            )
    return users


def _register(
    *,
    user,
    team,
    name,
    task_type,
    trained,
    description,
    filename,
    requirements,
    tags,
    owner=None,
    thresholds=None,
    version=1,
):
    model = RegisteredModel.objects.filter(team=team, name=name).first()
    if model is not None and model.versions.filter(number__gte=version).exists():
        return None
    artifact = io.BytesIO()
    joblib.dump(trained.model, artifact)
    reference = io.BytesIO(trained.reference.to_csv(index=False).encode())
    holdout = io.BytesIO(trained.holdout[trained.reference.columns].to_csv(index=False).encode())
    return version_register(
        user=user,
        reg=Registration(
            model_name=name,
            team=team,
            task_type=task_type,
            description=description,
            artifact=artifact,
            artifact_filename=filename,
            reference=reference,
            reference_filename=f"{name}-training.csv",
            target=trained.target,
            metrics=trained.metrics,
            requirements=requirements,
            environment=training.environment("scikit-learn", "numpy", "scipy", "pandas", "joblib"),
            code_commit="demo",
            data_uri=f"file://../shared/data/{'credit' if 'credit' in name else 'reviews'}",
            tags=tags,
            business_owner=owner,
            holdout=holdout,
            holdout_filename=f"{name}-holdout.csv",
            thresholds=thresholds or {},
            parent_version=version - 1 if version > 1 else None,
        ),
    )


def seed(stdout=None) -> None:
    users = seed_users()
    folder = data_dir()
    if not folder.is_dir():
        log.warning("no demo data at %s: users and teams only", folder)
        return
    dana, mark = users["dana"], users["mark"]
    credit = training.train_credit(folder)
    _register(
        user=dana,
        team=dana.teams.get(),
        name="credit-default",
        task_type="binary_classification",
        trained=credit,
        description="Probability that a consumer credit application ends in default (Status = bad).",
        filename="credit-default.joblib",
        requirements="scikit-learn\npandas",
        tags=["credit", "demo"],
        owner=users["bea"],
        thresholds={"roc_auc": 0.75},
    )
    # v2 is held to a stricter bar it does not meet: its validation fails, so it cannot go to
    # production unless IT overrides with a reason. People decide.
    _register(
        user=dana,
        team=dana.teams.get(),
        name="credit-default",
        task_type="binary_classification",
        trained=training.train_credit_boosted(folder),
        description="Gradient boosting instead of logistic regression; asked to reach AUC 0.9.",
        filename="credit-default-v2.joblib",
        requirements="scikit-learn\npandas",
        tags=["credit", "demo"],
        thresholds={"roc_auc": 0.9},
        version=2,
    )
    seed_deployments(users)
    # A week of backfilled, labelled history with a planted shift on credit-risk production.
    from apps.demo.kpis_demo import demo_end, seed_kpis
    from apps.demo.monitoring_demo import seed_monitoring

    end = demo_end()  # the backfilled week ends at midnight UTC: its planted day is a whole day
    seed_monitoring(users, stdout, now=end)
    # Business KPIs over that week, with a backfilled canary of v2 inside it.
    seed_kpis(users, stdout, now=end)
    seed_batch_job(users)
    reviews = training.train_reviews(folder)
    _register(
        user=mark,
        team=mark.teams.get(),
        name="review-sentiment",
        task_type="text_classification",
        trained=reviews,
        description="Is a food review great or not? TF-IDF and logistic regression.",
        filename="review-sentiment.joblib",
        requirements="scikit-learn",
        tags=["text", "demo"],
        thresholds={"accuracy": 0.7},
    )
    # Library governance: a model pinning a vulnerable Jinja2, the shipped advisories, a scan.
    from apps.demo.libraries_demo import seed_libraries

    seed_libraries(users, stdout)
    # The files the command-line walk-through in docs/cli.md names (var/examples/).
    write_examples(examples_dir(), folder)


def examples_dir() -> Path:
    return Path(settings.VAR_DIR) / "examples"


def _wait_for_package(version, timeout: float = 300):
    """The worker builds packages after registration; deployments need them."""
    from apps.packaging.models import PackageBuild

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        build = version.packages.filter(status=PackageBuild.Status.SUCCEEDED).first()
        if build is not None:
            return build
        time.sleep(1)
    log.warning("no package for %s after %ss: deployments skipped", version, timeout)
    return None


def seed_deployments(users) -> None:
    """credit-default v1 serves in staging and, approved by IT, in production. v2 failed its
    validation, so it stays out of production until IT decides otherwise, and shadows v1 in staging."""
    from apps.deployments.models import Deployment, Endpoint
    from apps.deployments.services import deployment_approve, deployment_request

    if Endpoint.objects.filter(name="credit-risk").exists():
        return
    dana, ivan = users["dana"], users["ivan"]
    v1 = RegisteredModel.objects.get(name="credit-default").versions.get(number=1)
    if _wait_for_package(v1) is None:
        return
    deployment_request(user=dana, version=v1, endpoint="credit-risk", environment="staging")
    production = deployment_request(user=dana, version=v1, endpoint="credit-risk", environment="production")
    deployment_approve(user=ivan, deployment=production, reason="validation passed; demo launch")
    # The registry's stage labels say the same as the deployments (MLflow-style: set by people).
    version_set_stage(user=ivan, version=v1, stage=Stage.PRODUCTION, reason="serves credit-risk")
    # v2 failed validation, so it may not serve in production; in staging it scores copies of the
    # traffic beside v1 (a shadow), so its answers can be compared without anyone receiving them.
    v2 = RegisteredModel.objects.get(name="credit-default").versions.get(number=2)
    if _wait_for_package(v2) is not None:
        deployment_request(
            user=dana, version=v2, endpoint="credit-risk", environment="staging", strategy="shadow"
        )
        version_set_stage(user=dana, version=v2, stage=Stage.STAGING, reason="shadows v1 in staging")
    deadline = time.monotonic() + 120
    while (
        Deployment.objects.filter(status=Deployment.Status.ROLLING_OUT).exists()
        and time.monotonic() < deadline
    ):
        time.sleep(1)


def seed_batch_job(users) -> None:
    """3,000 credit applications scored with credit-risk in production, in chunks of 1,000, so the
    batch page has a finished job with a download on the first run. Only queued: the demo's
    worker scores it while the seed goes on."""
    import pandas as pd
    from django.core.exceptions import ValidationError

    from apps.serving.batch.services import batch_job_submit
    from apps.serving.models import BatchJob

    if BatchJob.objects.exists():
        return
    frame = pd.read_csv(data_dir() / "credit" / "credit_data.csv").drop(columns=["Status"]).tail(3000)
    frame.insert(0, "application_id", [f"A{i:05d}" for i in frame.index])
    try:
        batch_job_submit(
            user=users["dana"],
            upload=io.BytesIO(frame.to_csv(index=False).encode()),
            filename="credit-applications.csv",
            endpoint="credit-risk",
            environment="production",
            chunk_size=1000,
        )
    except (ValidationError, Http404) as exc:  # e.g. production is not live yet
        log.warning("demo batch job not queued: %s", exc)
