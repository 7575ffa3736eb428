"""Library governance in the demo: a credit model whose reason letters are rendered with Jinja2 pins
jinja2==2.11.2, which the PyPA advisory (PYSEC-2021-66, CVE-2020-28493, fixed in 2.11.3) affects.
The shipped advisories are imported and every lock scanned during the seed, so the IT library page
shows the finding on first run. Approving the patch is left to the person trying the demo."""

import logging
from pathlib import Path

log = logging.getLogger(__name__)

MODEL = "credit-letters"
VULNERABLE_PIN = "jinja2==2.11.2"


def seed_libraries(users, stdout=None) -> None:
    from apps.demo import training
    from apps.demo.seed import _register, _wait_for_package, data_dir
    from apps.libraries.imports import advisories_import_path
    from apps.libraries.scans import library_scan

    folder = data_dir()
    dana = users["dana"]
    _register(
        user=dana,
        team=dana.teams.get(),
        name=MODEL,
        task_type="binary_classification",
        trained=training.train_credit(folder),
        description="Default probability for credit applications, with adverse-action letters rendered "
        "from Jinja2 templates (the letters pin Jinja2 2.11.2).",
        filename="credit-letters.joblib",
        requirements=f"scikit-learn\npandas\n{VULNERABLE_PIN}",
        tags=["credit", "demo", "letters"],
    )
    from apps.registry.models import RegisteredModel

    version = (
        RegisteredModel.objects.get(team=dana.teams.get(), name=MODEL).versions.order_by("number").first()
    )
    if _wait_for_package(version) is None:  # the scan reads package locks
        return
    advisories = Path(folder) / "advisories"
    if not advisories.is_dir():
        log.warning("no advisories at %s: library findings skipped", advisories)
        return
    run = advisories_import_path(path=str(advisories), scan=False)
    summary = library_scan()
    if stdout is not None:
        stdout.write(
            f"advisories: {run.created} new, {run.updated} updated, {run.unchanged} unchanged, "
            f"{run.withdrawn} withdrawn, {len(run.problems)} problem(s); scan: {summary.versions} lock(s), "
            f"{len(summary.new)} new finding(s). IT (ivan) approves the patch on /it/libraries/.\n"
        )
