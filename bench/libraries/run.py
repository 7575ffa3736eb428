"""Scan 1,000 lockfiles of 100 packages each against the whole shipped advisory set.

    .venv/bin/python bench/libraries/run.py [--locks 1000] [--packages 100] [--seed 7]

No database: the same pure code the scan service calls (apps.libraries.osv to read the advisories,
apps.libraries.matching to index and match). Each lock pins 100 distinct packages: about a third
drawn from the packages the advisories name (at versions the advisories list as affected, at their
fixed versions, or at made-up later ones), the rest from 2,000 names no advisory mentions. The
lowest fix is worked out for every affected package, as a scan does. The issue's target: < 5 s.
"""

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from apps.libraries import osv  # noqa: E402
from apps.libraries.matching import AdvisoryIndex  # noqa: E402

ADVISORIES = ROOT.parent / "shared" / "data" / "advisories" / "vulns"


def load(folder: Path) -> list[osv.Advisory]:
    advisories = []
    for name, content in osv.read_sources(folder):
        advisory, _ = osv.load(name, content)
        if advisory is not None and advisory.withdrawn is None:
            advisories.append(advisory)
    return advisories


def index_of(advisories: list[osv.Advisory]) -> AdvisoryIndex:
    index = AdvisoryIndex()
    for advisory in advisories:
        for affected in advisory.affected:
            index.add(advisory.id, affected.name, affected.intervals, affected.versions)
    return index.build()


def make_locks(advisories, locks: int, packages: int, seed: int) -> list[list[tuple[str, str]]]:
    rng = random.Random(seed)
    versions: dict[str, set[str]] = {}
    for advisory in advisories:
        for affected in advisory.affected:
            known = versions.setdefault(affected.name, set())
            known.update(affected.versions[:20])
            known.update(i.fixed for i in affected.intervals if i.fixed)
    vulnerable = sorted(versions)
    clean = [f"clean-package-{i}" for i in range(2000)]
    out = []
    for _ in range(locks):
        names = rng.sample(vulnerable, packages // 3) + rng.sample(clean, packages - packages // 3)
        lock = []
        for name in names:
            choices = sorted(versions.get(name, ()))
            if choices and rng.random() < 0.8:
                version = rng.choice(choices)
            else:
                version = f"{rng.randint(0, 30)}.{rng.randint(0, 30)}.{rng.randint(0, 30)}"
            lock.append((name, version))
        out.append(lock)
    return out


def scan(index: AdvisoryIndex, locks) -> tuple[int, int, int]:
    hits = affected = fixes = 0
    for lock in locks:
        for hit in index.scan(lock):
            hits += 1
            if hit.advisories:
                affected += len(hit.advisories)
                fixes += index.lowest_fix(hit.package, hit.version, hit.advisories).version is not None
    return hits, affected, fixes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locks", type=int, default=1000)
    parser.add_argument("--packages", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--advisories", type=Path, default=ADVISORIES)
    args = parser.parse_args()

    started = time.perf_counter()
    advisories = load(args.advisories)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    index = index_of(advisories)
    index_s = time.perf_counter() - started
    locks = make_locks(advisories, args.locks, args.packages, args.seed)
    pins = sum(len(lock) for lock in locks)
    distinct = len({pin for lock in locks for pin in lock})

    started = time.perf_counter()
    hits, affected, fixes = scan(index, locks)
    cold_s = time.perf_counter() - started  # every match computed once, then cached
    started = time.perf_counter()
    scan(index, locks)
    warm_s = time.perf_counter() - started  # the nightly scan's case: pins seen before

    print(f"advisories: {len(advisories)} (read and checked in {read_s:.2f} s, indexed in {index_s:.3f} s)")
    print(f"locks: {args.locks} x {args.packages} packages = {pins:,} pins, {distinct:,} distinct")
    print(f"findings: {hits:,} affected or bad pins, {affected:,} (pin, advisory) pairs, {fixes:,} fixed")
    verdict = "met" if cold_s < 5 else "NOT met"
    print(f"scan, cold: {cold_s:.2f} s ({pins / cold_s:,.0f} pins/s), target < 5 s: {verdict}")
    print(f"scan, warm: {warm_s:.2f} s")


if __name__ == "__main__":
    main()
