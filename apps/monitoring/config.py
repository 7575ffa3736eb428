"""A monitor's configuration: its keys, their meaning and their validation.

    windows           which windows each scheduled run checks: "hour", "day", "week"
    baseline          "reference" (the version's reference data) or "previous" (the window before)
    q                 the false-discovery rate (or family-wise level with bonferroni) of a run
    correction        "bh" (Benjamini–Hochberg) or "bonferroni", over every p-value of a run
    floors            check or feature name → smallest effect size worth flagging
    overrides         feature → {"test", "effect", "floor"} replacing the default test choice
    features          the features to check (null: all of the schema's)
    schedule_minutes  how often beat runs the checks (5 … 10080)
    min_rows          a window with fewer predictions is recorded as skipped
    slices            lists of column groups the root-cause slice finder tries first (data only)

Errors are Django ValidationErrors keyed "config.<key>" so the API answers with the field named.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError

from apps.monitoring.stats.drift import EFFECTS as DRIFT_EFFECTS
from apps.monitoring.stats.drift import TESTS as DRIFT_TESTS

WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
BASELINES = ("reference", "previous")
CORRECTIONS = ("bh", "bonferroni")
# The tests and effect measures stats/drift.py knows by name.
TESTS = tuple(DRIFT_TESTS)
EFFECTS = tuple(DRIFT_EFFECTS)
KEYS = (
    "windows",
    "baseline",
    "q",
    "correction",
    "floors",
    "overrides",
    "features",
    "schedule_minutes",
    "min_rows",
    "slices",
)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def config_validate(config, *, feature_names: list[str]) -> dict:
    """The config, checked; raises ValidationError naming every wrong key."""
    if not isinstance(config, dict):
        raise ValidationError({"config": "must be a JSON object"})
    errors: dict[str, str] = {}
    known = set(feature_names)

    for key in sorted(set(config) - set(KEYS)):
        errors[f"config.{key}"] = f"unknown setting; known ones are {', '.join(KEYS)}"

    windows = config.get("windows")
    if not isinstance(windows, list) or not windows or any(w not in WINDOWS for w in windows):
        errors["config.windows"] = f"a non-empty list drawn from {', '.join(WINDOWS)}"
    if config.get("baseline") not in BASELINES:
        errors["config.baseline"] = f"'{config.get('baseline')}' is not one of {', '.join(BASELINES)}"
    q = config.get("q")
    if not _number(q) or not 0 < q <= 0.5:
        errors["config.q"] = f"{q!r} is not a level between 0 (exclusive) and 0.5"
    if config.get("correction") not in CORRECTIONS:
        errors["config.correction"] = f"'{config.get('correction')}' is not one of {', '.join(CORRECTIONS)}"

    floors = config.get("floors", {})
    if not isinstance(floors, dict) or any(not _number(v) or v < 0 for v in floors.values()):
        errors["config.floors"] = "an object of name → non-negative number"

    overrides = config.get("overrides", {})
    if not isinstance(overrides, dict):
        errors["config.overrides"] = "an object of feature → {test, effect, floor}"
    else:
        for feature, override in overrides.items():
            where = f"config.overrides.{feature}"
            if feature not in known:
                errors[where] = f"'{feature}' is not a feature of this model"
            elif not isinstance(override, dict) or set(override) - {"test", "effect", "floor"}:
                errors[where] = "an object with test, effect and/or floor"
            elif "test" in override and override["test"] not in TESTS:
                errors[where] = f"test '{override['test']}' is not one of {', '.join(TESTS)}"
            elif "effect" in override and override["effect"] not in EFFECTS:
                errors[where] = f"effect '{override['effect']}' is not one of {', '.join(EFFECTS)}"
            elif "floor" in override and (not _number(override["floor"]) or override["floor"] < 0):
                errors[where] = "floor must be a non-negative number"

    features = config.get("features")
    if features is not None:
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            errors["config.features"] = "null (every feature) or a list of feature names"
        elif unknown := [f for f in features if f not in known]:
            errors["config.features"] = f"not features of this model: {', '.join(unknown)}"

    minutes = config.get("schedule_minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 5 <= minutes <= 10080:
        errors["config.schedule_minutes"] = f"{minutes!r} is not a whole number of minutes from 5 to 10080"
    min_rows = config.get("min_rows")
    if not isinstance(min_rows, int) or isinstance(min_rows, bool) or min_rows < 1:
        errors["config.min_rows"] = f"{min_rows!r} is not a whole number of at least 1"

    slices = config.get("slices", [])
    if not isinstance(slices, list) or not all(
        isinstance(group, list) and group and all(isinstance(c, str) for c in group) for group in slices
    ):
        errors["config.slices"] = 'a list of lists of column names, e.g. [["score bracket", "age"]]'

    if errors:
        raise ValidationError(errors)
    return config


def config_merge(current: dict, changes) -> dict:
    """A PATCH: top-level keys of ``changes`` replace those of ``current``."""
    if not isinstance(changes, dict):
        raise ValidationError({"config": "must be a JSON object"})
    return {**current, **changes}
