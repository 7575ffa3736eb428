"""Run by the fault suite in a subprocess, with the environment of its private services: migrate the
private database, then register, package and deploy a small scikit-learn model (skops, a safe
format) on a staging endpoint through the services, and print what a client needs as JSON:
{"endpoint", "environment", "key", "records"}.

A subprocess of its own because the test process's Django is bound to pytest's test database; this
one is set up exactly like the services it prepares for (production settings, private PostgreSQL,
Redis and media folder)."""

import io
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ENDPOINT = "faults"
ENVIRONMENT = "staging"


def training_frame(rows: int = 400):
    """Synthetic applications on the model zoo's six numeric features, labelled by a linear rule."""
    import numpy as np
    import pandas as pd

    from tests.model_zoo import FEATURES

    rng = np.random.default_rng(13)
    frame = pd.DataFrame({name: rng.integers(1, 100, rows) for name in FEATURES})
    score = frame["Amount"] - frame["Age"] + rng.normal(0, 10, rows)
    frame["Status"] = np.where(score > 0, "bad", "good")
    return frame


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from apps.accounts.roles import Role
    from apps.accounts.services import user_create
    from apps.deployments.services import (
        deployment_request,
        deployment_rollout_run,
        endpoint_key_create,
        seed_environments,
    )
    from apps.packaging.services import package_build_enqueue, package_build_run
    from apps.registry.services import Registration, version_register
    from tests import model_zoo

    seed_environments()
    frame = training_frame()
    filename, content = model_zoo.sklearn_skops(frame)
    user = user_create(username="faults", role=Role.DATA_SCIENTIST, team_name="Faults")
    version = version_register(
        user=user,
        reg=Registration(
            model_name="faults",
            task_type="binary_classification",
            artifact=io.BytesIO(content),
            artifact_filename=filename,
            reference=io.BytesIO(model_zoo.reference_csv(frame)),
            reference_filename="train.csv",
            target="Status",
        ),
    )
    build = package_build_run(build=package_build_enqueue(version=version), step=lambda p, m: None)
    if not build.archive_sha256:
        sys.exit(f"the package build failed: {build.report}")
    deployment = deployment_request(user=user, version=version, endpoint=ENDPOINT, environment=ENVIRONMENT)
    deployment_rollout_run(deployment=deployment, step=lambda p, m: None)
    _, key = endpoint_key_create(user=user, endpoint=deployment.endpoint, name="faults")
    records = frame[model_zoo.FEATURES].head(50).to_dict(orient="records")
    print(json.dumps({"endpoint": ENDPOINT, "environment": ENVIRONMENT, "key": key, "records": records}))


if __name__ == "__main__":
    main()
