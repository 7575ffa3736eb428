"""One check run: every drift, quality and prediction test of a window against its reference, with
every p-value of the run adjusted together and a finding flagged only when its adjusted p-value is at
most q AND its effect size reaches the floor (selection.py explains why both).

Costs do not grow with the number of predictions: a run reads two profiles (``current`` may be a
merge of any number of window profiles, or a previous period's window standing in as reference).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import pandas as pd

from apps.monitoring.stats import drift, multiplicity, prediction, quality, selection
from apps.monitoring.stats.profiles import feature_kind, profile_window

PREDICTION = "__prediction__"
SCORE = "__score__"
CHECKS = (
    "drift",
    "null_rate",
    "zero_rate",
    "out_of_range",
    "unseen_categories",
    "type_errors",
    "prediction_drift",
    "score_drift",
    "class_share",
    "performance",
)
CLASS_SHARE_FLOOR = 0.05
# An effect computed from profiles decides a flag only when it is known this closely (drift.py bounds
# its error); otherwise, if the floor is within the bound, the finding says so instead of flagging.
EFFECT_RELATIVE_TOLERANCE = 0.02
EFFECT_ABSOLUTE_TOLERANCE = 0.005


@dataclass
class Finding:
    feature: str
    check: str
    test: str
    statistic: float
    p_value: float | None
    adjusted_p: float | None
    effect_size: float
    effect_name: str
    floor: float
    n_reference: int
    n_current: int
    flagged: bool
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CheckConfig:
    q: float = 0.05
    correction: str = "bh"
    overrides: dict[str, dict] = field(default_factory=dict)
    floors: dict[str, float] = field(default_factory=dict)  # by check name, or by feature name for drift
    features: list[str] | None = None

    @classmethod
    def from_dict(cls, data: dict | None) -> CheckConfig:
        """From a monitor's stored settings; every problem names its field."""
        data = dict(data or {})
        unknown = set(data) - {"q", "correction", "overrides", "floors", "features"}
        if unknown:
            raise ValueError(f"check settings: unknown fields {sorted(unknown)}")
        config = cls(**data)
        config.validate()
        return config

    def validate(self) -> None:
        if not isinstance(self.q, int | float) or not 0 < self.q < 1:
            raise ValueError(f"q: the false-discovery rate must lie strictly between 0 and 1, not {self.q!r}")
        if self.correction not in multiplicity.METHODS:
            methods = ", ".join(multiplicity.METHODS)
            raise ValueError(f"correction: {self.correction!r} is not one of {methods}")
        overrides = self.overrides
        if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
            raise ValueError("overrides: expected {feature: {test, effect, floor}}")
        for key, value in (self.floors or {}).items():
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"floors.{key}: expected a non-negative number, not {value!r}")
        if self.features is not None and not isinstance(self.features, list):
            raise ValueError("features: expected a list of feature names")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CheckResult:
    findings: list[Finding]
    tests_run: int
    correction: str
    q: float

    @property
    def flagged(self) -> list[Finding]:
        return [f for f in self.findings if f.flagged]

    def to_dict(self) -> dict:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "tests_run": self.tests_run,
            "correction": self.correction,
            "q": self.q,
            "flagged": len(self.flagged),
        }


def _drift_check(name: str) -> str:
    return {PREDICTION: "prediction_drift", SCORE: "score_drift"}.get(name, "drift")


def _finding(feature: str, check: str, result: drift.TestResult, floor: float, **extra) -> Finding:
    return Finding(
        feature=feature,
        check=check,
        test=result.test,
        statistic=float(result.statistic),
        p_value=result.p_value,
        adjusted_p=None,
        effect_size=float(result.effect_size),
        effect_name=result.effect_name,
        floor=float(floor),
        n_reference=int(result.n_reference),
        n_current=int(result.n_current),
        flagged=False,
        details={**result.details, **extra},
    )


def _text_results(reference_feature: dict, current_feature: dict) -> list[drift.TestResult]:
    try:  # written alongside this module; a checkout without it simply has no text checks
        from apps.monitoring.stats.text import text_findings
    except ImportError:
        return []
    return list(text_findings(reference_feature, current_feature))


def _feature_findings(spec: dict, reference: dict, current: dict, config: CheckConfig) -> list[Finding]:
    name = spec["name"]
    ref, cur = reference["features"][name], current["features"].get(name)
    if cur is None:
        raise ValueError(f"feature {name!r} is in the reference profile but not in the current one")
    kind, check = ref["kind"], _drift_check(name)
    choice = selection.choose(
        name,
        kind,
        ref["count"],
        cur["count"],
        n_distinct=ref.get("distinct"),
        override=config.overrides.get(name),
    )
    floor = config.floors.get(name, config.floors.get(check, choice.floor))
    findings = []
    if choice.test == selection.TEXT_TEST:
        for r in _text_results(ref, cur):
            # Each text check (length, empty rate, OOV rate, top tokens) has its own name and floor.
            text_check = r.details.get("check", check)
            text_floor = config.floors.get(name, config.floors.get(text_check, r.details.get("floor", floor)))
            findings.append(_finding(name, text_check, r, text_floor, choice=choice.source))
    else:
        result = drift.run_test(choice.test, ref, cur)
        extra = {
            "test_effect": {"name": result.effect_name, "value": result.effect_size},
            "choice": choice.source,
        }
        if result.effect_name != choice.effect:
            effect = drift.EFFECTS[choice.effect](ref, cur)
            if effect.details.get("bound") is not None:  # an approximate effect: its error bound too
                extra["effect_bound"] = effect.details["bound"]
                extra["effect_source"] = effect.details.get("source")
            result = drift.TestResult(
                result.test,
                result.statistic,
                result.p_value,
                effect.effect_size,
                choice.effect,
                result.n_reference,
                result.n_current,
                result.details,
            )
        findings.append(_finding(name, check, result, floor, **extra))
    for result in quality.quality_findings(ref, cur, spec):
        rate_check = result.details["check"]
        rate_floor = config.floors.get(rate_check, quality.FLOORS[rate_check])
        findings.append(_finding(name, rate_check, result, rate_floor))
    if name == PREDICTION and kind == "categorical":
        findings += _class_share_findings(ref, cur, config)
    return findings


def _class_share_findings(ref: dict, cur: dict, config: CheckConfig) -> list[Finding]:
    floor = config.floors.get("class_share", CLASS_SHARE_FLOOR)
    findings = []
    for row in prediction.class_shares(ref["categories"], cur["categories"]):
        if row["p_value"] is None:
            continue
        result = drift.TestResult(
            "two_proportion_z",
            row["statistic"],
            row["p_value"],
            abs(row["change"]),
            "share_change",
            row["n_reference"],
            row["n_current"],
            {**row, "sentence": prediction.describe_share_change(row)},
        )
        findings.append(_finding(PREDICTION, "class_share", result, floor))
    return findings


def effect_tolerance(effect: float) -> float:
    """How far an approximate effect may be from the exact one: 2 % of it, or 0.005 if larger."""
    return max(EFFECT_RELATIVE_TOLERANCE * abs(effect), EFFECT_ABSOLUTE_TOLERANCE)


def _too_uncertain(finding: Finding) -> bool:
    """An effect from profiles whose error bound exceeds the tolerance AND could put it on either side
    of the floor does not decide a flag: the finding says so instead (details["uncertain"])."""
    bound = finding.details.get("effect_bound", finding.details.get("bound"))
    if bound is None or bound <= effect_tolerance(finding.effect_size):
        return False
    if finding.effect_size - bound >= finding.floor or finding.effect_size + bound < finding.floor:
        return False  # on one side of the floor whatever the error
    finding.details["uncertain"] = (
        f"effect {finding.effect_size:.3f} ± {bound:.3f} from binned profiles could lie on either side "
        f"of the floor {finding.floor:g}; not flagged (the bins cannot tell)"
    )
    return True


def run_checks(
    reference: dict, current: dict, features: list[dict], config: CheckConfig | None = None
) -> CheckResult:
    """Test every profiled feature of ``features`` (the schema, plus the prediction pseudo-features)."""
    config = config or CheckConfig()
    config.validate()
    wanted = set(config.features) if config.features is not None else None
    findings: list[Finding] = []
    for spec in features:
        name = spec["name"]
        if wanted is not None and name not in wanted:
            continue
        if feature_kind(spec) is None or name not in reference["features"]:
            continue
        findings += _feature_findings(spec, reference, current, config)
    adjusted = multiplicity.adjust([f.p_value for f in findings], config.correction)
    for finding, adj in zip(findings, adjusted, strict=True):
        big_enough = finding.effect_size >= finding.floor and not _too_uncertain(finding)
        if finding.p_value is None:  # a distance chosen by override: its floor alone decides
            finding.flagged = big_enough
            continue
        finding.adjusted_p = None if math.isnan(adj) else float(adj)
        significant = finding.adjusted_p is not None and finding.adjusted_p <= config.q
        finding.flagged = bool(big_enough and significant)
    tests_run = sum(f.p_value is not None for f in findings)
    return CheckResult(findings=findings, tests_run=tests_run, correction=config.correction, q=config.q)


def run_checks_on_frames(
    reference_profile: dict,
    current_frame: pd.DataFrame,
    features: list[dict],
    config: CheckConfig | None = None,
) -> CheckResult:
    """Profile a raw frame on the reference's bins, then run the checks (the benchmark's entry point)."""
    window = profile_window(current_frame, reference_profile, features=features)
    return run_checks(reference_profile, window, features, config)
