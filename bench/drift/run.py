"""Drift checks: Modelyard against Evidently's data-drift report on the same frames.

    .venv/bin/python bench/drift/run.py                      # 1M + 1M rows x 25 features
    .venv/bin/python bench/drift/run.py --rows 100000 --skip-evidently

A reference and a current frame (20 numeric, 5 categorical features; seeded) with drift planted in
four features are written once as Parquet files to a temporary folder. Each tool then runs in a child
process of its own, so that its peak memory is its own (measure.py): Modelyard with the reference
profile prepared in advance, Modelyard preparing it too, plain per-column SciPy, the check of 10M
logged predictions through 240 hourly window profiles, and Evidently's default DataDriftPreset in an
environment of its own (bench/drift/.venv-evidently: Evidently 0.7 needs pandas < 3), created on
the first run."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

from measure import machine, measured, report  # noqa: E402

EVIDENTLY_VENV = HERE / ".venv-evidently"
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.*", "pandas<3", "pyarrow"]
TARGETS = {"speedup_prepared": 150, "speedup_full": 80, "memory_mib": 300, "windows_seconds": 1.0}


# ---------------------------------------------------------------------------------------------
# The frames: every feature is a function of (generator, rows, drifted).


def _zipf(levels: int, power: float = 1.0) -> np.ndarray:
    shares = 1.0 / np.arange(1, levels + 1) ** power
    return shares / shares.sum()


def _with_nulls(values: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
    values = values.astype(float)
    values[rng.random(len(values)) < rate] = np.nan
    return values


def _heavy_zeros(rng, n, share_zero, draw):
    return np.where(rng.random(n) < share_zero, 0, draw(n))


def _categories(levels: int, shares: np.ndarray):
    names = np.array([f"L{i:02d}" for i in range(levels)], dtype=object)

    def make(rng, n, drifted):
        return names[rng.choice(levels, size=n, p=shares)]

    return make


def _mix_changed(levels: int) -> np.ndarray:
    """The three most common levels lose half their share; the others grow to fill it."""
    shares = _zipf(levels)
    shares[:3] *= 0.5
    return shares / shares.sum()


def _category_drift(levels: int):
    before, after = _categories(levels, _zipf(levels)), _categories(levels, _mix_changed(levels))
    return lambda rng, n, drifted: (after if drifted else before)(rng, n, drifted)


# name: (schema type, generator, planted drift or None)
FEATURES = {
    "n01_normal": ("number", lambda r, n, d: r.normal(0.25 if d else 0.0, 1.0, n), "mean +0.25 sd"),
    "n02_normal": ("number", lambda r, n, d: r.normal(100, 15, n), None),
    "n03_normal_scale": ("number", lambda r, n, d: r.normal(10, 3.0 if d else 2.0, n), "sd x1.5"),
    "n04_lognormal": ("number", lambda r, n, d: r.lognormal(3, 0.8, n) * (1.3 if d else 1.0), "scale x1.3"),
    "n05_lognormal": ("number", lambda r, n, d: r.lognormal(0, 0.5, n), None),
    "n06_uniform": ("number", lambda r, n, d: r.uniform(0, 1, n), None),
    "n07_exponential": ("number", lambda r, n, d: r.exponential(5, n), None),
    "n08_gamma": ("number", lambda r, n, d: r.gamma(2, 3, n), None),
    "n09_beta": ("number", lambda r, n, d: r.beta(2, 5, n), None),
    "n10_student_t": ("number", lambda r, n, d: r.standard_t(5, n), None),
    "n11_poisson3": ("integer", lambda r, n, d: r.poisson(3, n), None),
    "n12_poisson20": ("integer", lambda r, n, d: r.poisson(20, n), None),
    "n13_negbinom": ("integer", lambda r, n, d: r.negative_binomial(2, 0.1, n), None),
    "n14_zeros_lognormal": (
        "number",
        lambda r, n, d: _heavy_zeros(r, n, 0.7, lambda k: r.lognormal(4, 1, k)),
        None,
    ),
    "n15_zeros_counts": (
        "integer",
        lambda r, n, d: _heavy_zeros(r, n, 0.85, lambda k: r.poisson(4, k) + 1),
        None,
    ),
    "n16_nulls_normal": ("number", lambda r, n, d: _with_nulls(r.normal(5, 1, n), r, 0.03), None),
    "n17_nulls_lognormal": ("number", lambda r, n, d: _with_nulls(r.lognormal(1, 0.7, n), r, 0.08), None),
    "n18_bimodal": (
        "number",
        lambda r, n, d: np.where(r.random(n) < 0.4, r.normal(-2, 0.5, n), r.normal(3, 1, n)),
        None,
    ),
    "n19_rounded": ("number", lambda r, n, d: np.round(r.normal(50, 10, n), 1), None),
    "n20_pareto": ("number", lambda r, n, d: r.pareto(3, n) + 1, None),
    "c1_3_levels": ("categorical", _categories(3, _zipf(3)), None),
    "c2_5_levels": ("categorical", _categories(5, _zipf(5)), None),
    "c3_12_levels": ("categorical", _categories(12, _zipf(12)), None),
    "c4_30_levels": ("categorical", _category_drift(30), "top 3 levels lose half their share"),
    "c5_50_levels": ("categorical", _categories(50, _zipf(50, 0.8)), None),
}
PLANTED = {name: drift for name, (_, _, drift) in FEATURES.items() if drift}
NUMERIC = [name for name, (kind, _, _) in FEATURES.items() if kind != "categorical"]
CATEGORICAL = [name for name, (kind, _, _) in FEATURES.items() if kind == "categorical"]


def schema() -> list[dict]:
    """The registry's feature specs for the frames (no declared min/max)."""
    return [
        {"name": name, "type": kind, "nullable": name.startswith(("n16", "n17"))}
        for name, (kind, _, _) in FEATURES.items()
    ]


def frame(rows: int, seed: int, drifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({name: make(rng, rows, drifted) for name, (_, make, _) in FEATURES.items()})


def planted_sizes() -> dict[str, str]:
    """Each planted drift with the size that Evidently's and our effect measures should see."""
    from scipy.spatial.distance import jensenshannon

    js = jensenshannon(_zipf(30), _mix_changed(30), base=2)
    normalised = {  # Wasserstein distance / reference sd, in closed form
        "n01_normal": 0.25,
        "n03_normal_scale": 0.5 * np.sqrt(2 / np.pi),  # E|Z| times the added half sd
        "n04_lognormal": 0.3 / np.sqrt(np.exp(0.8**2) - 1),  # 0.3 x mean / sd of a lognormal
    }
    sizes = {name: f"{PLANTED[name]} (Wasserstein/sd {value:.2f})" for name, value in normalised.items()}
    sizes["c4_30_levels"] = f"{PLANTED['c4_30_levels']} (Jensen-Shannon distance {js:.2f})"
    return sizes


# ---------------------------------------------------------------------------------------------
# Children: each loads its inputs, then measures its work alone.


def _modelyard_flags(result) -> tuple[list[str], list[str]]:
    drift = sorted({f.feature for f in result.flagged if f.check == "drift"})
    other = sorted(f"{f.feature} {f.check}" for f in result.flagged if f.check != "drift")
    return drift, other


def child_prepare(folder: Path) -> None:
    from apps.monitoring.stats.profiles import build_reference_profile

    reference = pd.read_parquet(folder / "reference.parquet")
    with measured() as cost:
        profile = build_reference_profile(reference, schema())
    text = json.dumps(profile)
    (folder / "profile.json").write_text(text)
    report(cost.as_dict() | {"profile_mib": len(text) / 2**20})


def child_check(folder: Path) -> None:
    from apps.monitoring.stats.checks import CheckConfig, run_checks_on_frames

    current = pd.read_parquet(folder / "current.parquet")
    profile = json.loads((folder / "profile.json").read_text())
    with measured() as cost:
        result = run_checks_on_frames(profile, current, schema(), CheckConfig())
    drift, other = _modelyard_flags(result)
    report(cost.as_dict() | {"flagged": drift, "other_findings": other, "tests": result.tests_run})


def child_full(folder: Path) -> None:
    from apps.monitoring.stats.checks import CheckConfig, run_checks_on_frames
    from apps.monitoring.stats.profiles import build_reference_profile

    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    with measured() as cost:
        profile = build_reference_profile(reference, schema())
        result = run_checks_on_frames(profile, current, schema(), CheckConfig())
    drift, other = _modelyard_flags(result)
    report(cost.as_dict() | {"flagged": drift, "other_findings": other, "tests": result.tests_run})


def child_scipy(folder: Path) -> None:
    """Per column, no preparation: asymptotic two-sample KS, two-sample chi-squared on the value counts,
    Benjamini-Hochberg over the 25 p-values at q = 0.05, no effect floor."""
    from scipy import stats

    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    with measured() as cost:
        p_values = {}
        for name in NUMERIC:
            a, b = reference[name].dropna().to_numpy(), current[name].dropna().to_numpy()
            p_values[name] = stats.ks_2samp(a, b, method="asymp").pvalue
        for name in CATEGORICAL:
            table = pd.concat([reference[name].value_counts(), current[name].value_counts()], axis=1)
            p_values[name] = stats.chi2_contingency(table.fillna(0).to_numpy().T).pvalue
        adjusted = stats.false_discovery_control(list(p_values.values()))
        flagged = sorted(name for name, p in zip(p_values, adjusted, strict=True) if p <= 0.05)
    report(cost.as_dict() | {"flagged": flagged})


def child_windows(folder: Path, predictions: int, hours: int, seed: int) -> None:
    """Profile `hours` windows of drifted predictions (timed apart), then time merging them and checking."""
    from apps.monitoring.stats.checks import CheckConfig, run_checks
    from apps.monitoring.stats.profiles import merge_many, profile_window

    profile = json.loads((folder / "profile.json").read_text())
    sizes = [predictions // hours + (hour < predictions % hours) for hour in range(hours)]
    started = time.perf_counter()
    windows = [
        profile_window(frame(rows, seed + 1000 + hour, drifted=True), profile, features=schema(), seed=hour)
        for hour, rows in enumerate(sizes)
    ]
    build_seconds = time.perf_counter() - started
    with measured() as cost:
        merge_started = time.perf_counter()
        merged = merge_many(windows)  # as apps/monitoring/windows.py merged_window does
        merge_seconds = time.perf_counter() - merge_started
        result = run_checks(profile, merged, schema(), CheckConfig())
    drift, other = _modelyard_flags(result)
    report(
        cost.as_dict()
        | {
            "flagged": drift,
            "other_findings": other,
            "build_seconds": build_seconds,
            "merge_seconds": merge_seconds,
            "rows": merged["rows"],
            "windows": hours,
        }
    )


# ---------------------------------------------------------------------------------------------
# The parent


def evidently_python() -> Path:
    """The Evidently environment's interpreter, created with pip on first use."""
    python = EVIDENTLY_VENV / "bin" / "python"
    probe = [str(python), "-c", "import evidently, pandas; assert pandas.__version__ < '3'"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {EVIDENTLY_VENV.relative_to(ROOT)} ({' '.join(EVIDENTLY_REQUIREMENTS)}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_REQUIREMENTS], check=True)
    return python


def run_child(command: list[str], label: str) -> dict | None:
    print(f"  {label} ...", end=" ", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        print(f"FAILED (exit {done.returncode})")
        print("\n".join((done.stdout + done.stderr).splitlines()[-15:]))
        return None
    result = json.loads(lines[-1].removeprefix("RESULT "))
    print(f"{result['seconds']:.2f} s")
    return result


def _ours(folder: Path, child: str, *extra: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", child, "--folder", str(folder), *extra]


def _found(flagged: list[str] | None) -> str:
    if flagged is None:
        return ""
    missed, extra = set(PLANTED) - set(flagged), set(flagged) - set(PLANTED)
    if not missed and not extra:
        return "all planted, nothing else"
    parts = []
    if missed:
        parts.append("missed " + ", ".join(sorted(missed)))
    if extra:
        parts.append("also " + ", ".join(sorted(extra)))
    return "; ".join(parts)


def print_table(rows: list[tuple[str, dict | None]], evidently: dict | None) -> None:
    header = ("tool", "time", "extra peak memory", "vs Evidently", "flagged features", "planted set")
    table = [header]
    for label, result in rows:
        if result is None:
            table.append((label, "failed", "", "", "", ""))
            continue
        speedup = f"{evidently['seconds'] / result['seconds']:,.0f}x" if evidently else "n/a"
        flagged = result.get("flagged")
        table.append(
            (
                label,
                f"{result['seconds']:.2f} s",
                f"{result['extra_mib']:,.0f} MiB",
                speedup if result is not evidently else "1x",
                ", ".join(flagged) if flagged is not None else "",
                _found(flagged),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _verdicts(prepared, full, windows, evidently) -> list[str]:
    lines = []
    if evidently and prepared:
        speedup = evidently["seconds"] / prepared["seconds"]
        lines.append(f"prepared reference: {speedup:,.0f}x faster (target >= {TARGETS['speedup_prepared']}x)")
    if evidently and full:
        speedup = evidently["seconds"] / full["seconds"]
        lines.append(f"including preparation: {speedup:,.0f}x faster (target >= {TARGETS['speedup_full']}x)")
    if prepared:
        memory, target = prepared["extra_mib"], TARGETS["memory_mib"]
        lines.append(f"extra memory of the check: {memory:,.0f} MiB (target <= {target} MiB)")
    if windows:
        lines.append(
            f"{windows['rows']:,} predictions in {windows['windows']} windows: merge + check "
            f"{windows['seconds']:.2f} s (target < {TARGETS['windows_seconds']:g} s)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in each of the two frames")
    parser.add_argument(
        "--predictions", type=int, default=10_000_000, help="logged predictions for the window check"
    )
    parser.add_argument("--hours", type=int, default=240, help="hourly window profiles they fall into")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder with the frames")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        children = {"prepare": child_prepare, "check": child_check, "full": child_full, "scipy": child_scipy}
        if args.child == "windows":
            child_windows(args.folder, args.predictions, args.hours, args.seed)
        else:
            children[args.child](args.folder)
        return

    info = machine()
    print(
        f"machine: {info['cores']} cores ({info['cpu']}), {info['ram_gib']:.1f} GiB RAM, "
        f"load average {' '.join(f'{x:.2f}' for x in info['load'])}"
    )
    python = None if args.skip_evidently else evidently_python()
    folder = Path(tempfile.mkdtemp(prefix="modelyard-drift-bench-"))
    try:
        started = time.perf_counter()
        frame(args.rows, args.seed, drifted=False).to_parquet(folder / "reference.parquet")
        frame(args.rows, args.seed + 1, drifted=True).to_parquet(folder / "current.parquet")
        print(
            f"frames: reference and current, {args.rows:,} rows x {len(FEATURES)} features "
            f"({len(NUMERIC)} numeric, {len(CATEGORICAL)} categorical), "
            f"written in {time.perf_counter() - started:.1f} s"
        )
        print("planted drift:")
        for name, size in planted_sizes().items():
            print(f"  {name}: {size}")
        print("measuring (each in a child process of its own):")
        prepare = run_child(_ours(folder, "prepare"), "Modelyard: prepare the reference profile")
        prepared = None
        if prepare:
            prepared = run_child(_ours(folder, "check"), "Modelyard: check, reference prepared")
        full = run_child(_ours(folder, "full"), "Modelyard: prepare + check")
        scipy = run_child(_ours(folder, "scipy"), "SciPy per column")
        windows = None
        if prepare:
            sizes = [f"--predictions={args.predictions}", f"--hours={args.hours}", f"--seed={args.seed}"]
            label = f"Modelyard: {args.predictions:,} predictions"
            windows = run_child(_ours(folder, "windows", *sizes), label)
        evidently = None
        if python:
            script = str(HERE / "evidently_report.py")
            columns = (",".join(NUMERIC), ",".join(CATEGORICAL))
            evidently = run_child([str(python), script, str(folder), *columns], "Evidently DataDriftPreset")
    finally:
        if args.keep:
            print(f"frames kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    print()
    rows = [
        ("Modelyard, reference prepared (check only)", prepared),
        ("Modelyard, preparing the reference too", full),
        ("SciPy per column (KS asymptotic, chi-squared)", scipy),
    ]
    if windows:
        label = f"Modelyard, {windows['rows']:,} predictions in {windows['windows']} windows (merge + check)"
        rows.append((label, windows))
    if not args.skip_evidently:
        label = f"Evidently {evidently['version']} DataDriftPreset" if evidently else "Evidently"
        rows.append((label, evidently))
    print_table(rows, evidently)
    print()
    if prepare:
        print(
            f"preparing the reference profile: {prepare['seconds']:.2f} s, "
            f"{prepare['extra_mib']:,.0f} MiB extra, {prepare['profile_mib']:.2f} MiB of JSON"
        )
    if windows:
        print(
            f"building the {windows['windows']} window profiles (not timed above): "
            f"{windows['build_seconds']:.1f} s; of merge + check, merging: {windows['merge_seconds']:.2f} s"
        )
    if evidently:
        print(f"Evidently's drift methods: {'; '.join(evidently['methods'])}")
    for label, result in (("check", prepared), ("windows", windows)):
        if result and result.get("other_findings"):
            print(f"other Modelyard findings ({label}): {', '.join(result['other_findings'])}")
    for line in _verdicts(prepared, full, windows, evidently):
        print(line)
    print(
        f"memory measured as: {(prepared or full or {}).get('memory_method', '?')}; "
        f"load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
