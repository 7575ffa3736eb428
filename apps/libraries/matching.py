"""Which advisories affect a pinned version (PEP 440, through `packaging`), and the lowest version
that fixes them all while the model's other requirements still hold. No Django here.

The index turns each package's ranges into a step function: the sorted versions where some range
starts or ends cut the version line into points and the open stretches between them, and each
piece carries the set of advisories affecting it. A lookup is one parse (cached) and one bisect,
so a scan of 1,000 locks of 100 packages is dominated by dictionary lookups.

Pre-releases compare as PEP 440 orders them (2.0rc1 is before 2.0, so a fix in 2.0 does not cover
it). A recommended fix is a final release unless the caller asks for pre-releases: pip installs no
pre-release unless asked, so a fix event of ``0.24.dev0`` is recommended as ``0.24``, the first final
release after it. A local version label (``1.26.4+ubuntu1``) is matched as its public version: a distributor's
backport is not known to us, and the note on the hit says so.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version


@lru_cache(maxsize=200_000)
def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=200_000)
def _public(text: str) -> Version | None:
    version = parse_version(text)
    if version is None or version.local is None:
        return version
    return Version(version.public)


@dataclass(frozen=True)
class Hit:
    """One locked package's verdict: the advisories affecting it, or that its version is unreadable."""

    package: str
    version: str
    advisories: tuple[str, ...] = ()
    invalid_version: bool = False
    note: str = ""


@dataclass(frozen=True)
class Fix:
    version: str | None  # None when no version fixes every advisory within the requirements
    note: str


@dataclass(frozen=True)
class Constraint:
    """A requirement on the package from elsewhere: who asks (``pandas==2.2.0 requires``, ``declared``)
    and what (``numpy>=1.23``)."""

    source: str
    specifier: SpecifierSet

    def __str__(self) -> str:
        return f"{self.source} {self.specifier}"


@dataclass
class _PackageIndex:
    intervals: list[tuple[Version | None, Version | None, bool, str]] = field(default_factory=list)
    explicit: dict[str, set[str]] = field(default_factory=dict)  # canonical version (1.0 == 1.0.0) -> ids
    named: set[Version] = field(default_factory=set)  # every version the advisories name: fix candidates
    candidates: dict[bool, list[Version]] = field(default_factory=dict)  # by "pre-releases asked for"
    bounds: list[Version] = field(default_factory=list)
    pieces: list[frozenset[str]] = field(default_factory=list)
    fixes: dict[str, list[Version]] = field(default_factory=dict)  # id -> its fixed versions
    unfixed: set[str] = field(default_factory=set)  # ids with a range that has no fix

    def build(self) -> None:
        self.bounds = sorted({v for lo, hi, _, _ in self.intervals for v in (lo, hi) if v is not None})
        self.named.update(self.bounds)
        self.candidates = {pre: sorted(fix_candidates(self.named, prereleases=pre)) for pre in (False, True)}
        position = {v: i for i, v in enumerate(self.bounds)}
        # piece 2i: the stretch just below bounds[i]; 2i+1: bounds[i] itself; 2n: above the last.
        pieces: list[set[str]] = [set() for _ in range(2 * len(self.bounds) + 1)]
        for lo, hi, inclusive, advisory_id in self.intervals:
            first = 0 if lo is None else 2 * position[lo] + 1
            stop = len(pieces) if hi is None else 2 * position[hi] + 1 + int(inclusive)
            for piece in pieces[first:stop]:
                piece.add(advisory_id)
        self.pieces = [frozenset(p) for p in pieces]

    def affecting(self, version: Version, text: str) -> frozenset[str]:
        i = bisect_left(self.bounds, version)
        piece = 2 * i + 1 if i < len(self.bounds) and self.bounds[i] == version else 2 * i
        found = self.pieces[piece]
        explicit = self.explicit.get(canonicalize_version(version)) or self.explicit.get(text)
        return found | explicit if explicit else found


class AdvisoryIndex:
    """Build with ``add`` for every affected package of every advisory, then ``build()`` once."""

    def __init__(self) -> None:
        self._packages: dict[str, _PackageIndex] = {}
        self._cache: dict[tuple[str, str], Hit] = {}
        self.advisory_count = 0
        self._ids: set[str] = set()

    def add(
        self, advisory_id: str, package: str, intervals: Iterable[Mapping | object], versions: Iterable[str]
    ) -> None:
        index = self._packages.setdefault(canonicalize_name(package), _PackageIndex())
        self._ids.add(advisory_id)
        for interval in intervals:
            get = interval.get if isinstance(interval, Mapping) else lambda k, i=interval: getattr(i, k)
            lo = parse_version(get("introduced")) if get("introduced") else None
            fixed, last = get("fixed"), get("last_affected")
            hi = parse_version(fixed or last) if (fixed or last) else None
            index.intervals.append((lo, hi, bool(last) and not fixed, advisory_id))
            if fixed and hi is not None:
                index.fixes.setdefault(advisory_id, []).append(hi)
            else:
                index.unfixed.add(advisory_id)
        for raw in versions:
            parsed = parse_version(raw)
            if parsed is not None:
                index.named.add(parsed)
            index.explicit.setdefault(canonicalize_version(parsed) if parsed else raw, set()).add(advisory_id)

    def build(self) -> "AdvisoryIndex":
        for index in self._packages.values():
            index.build()
        self.advisory_count = len(self._ids)
        self._cache.clear()
        return self

    @property
    def packages(self) -> set[str]:
        return set(self._packages)

    def match(self, package: str, version: str) -> Hit:
        """The advisories affecting ``package==version``; cached, as locks repeat the same pins."""
        key = (package, version)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._match(canonicalize_name(package), version)
        return hit

    def _match(self, name: str, text: str) -> Hit:
        index = self._packages.get(name)
        version = _public(text)
        if version is None:
            return Hit(name, text, invalid_version=True, note=f"{text!r} is not a PEP 440 version")
        if index is None:
            return Hit(name, text)
        found = index.affecting(version, text)
        note = ""
        if found and parse_version(text).local:
            note = (
                f"matched as {version.public}: the local label +{parse_version(text).local} is not known here"
            )
        return Hit(name, text, tuple(sorted(found)), note=note)

    def scan(self, entries: Iterable[tuple[str, str]]) -> list[Hit]:
        """The hits of one lock: every affected or unreadable pin, in lock order."""
        found = []
        for name, version in entries:
            hit = self.match(name, version)
            if hit.advisories or hit.invalid_version:
                found.append(hit)
        return found

    def lowest_fix(
        self,
        package: str,
        installed: str,
        advisory_ids: Iterable[str],
        constraints: Iterable[Constraint] = (),
        *,
        prereleases: bool = False,
    ) -> Fix:
        """The lowest version above ``installed`` that is outside every affected range of the
        package and that every constraint allows; failing that, the lowest that at least fixes the
        given advisories (the note names what still affects it). Candidates are the versions the
        advisories name; a pre-release among them stands for the first final release after it
        (``2.0rc1`` -> ``2.0``) unless ``prereleases`` is asked for."""
        name = canonicalize_name(package)
        index = self._packages.get(name)
        current = _public(installed)
        wanted = set(advisory_ids)
        if index is None or current is None or not wanted:
            return Fix(None, "nothing to fix")
        constraints = list(constraints)
        candidates = index.candidates[prereleases][bisect_right(index.candidates[prereleases], current) :]
        # Walk up from the installed version; stop at the first clean version the requirements allow.
        clean: list[Version] = []  # outside every affected range
        fixing: list[Version] = []  # outside the ranges of the advisories found
        affecting: dict[Version, frozenset[str]] = {}
        for v in candidates:
            affecting[v] = index.affecting(v, str(v))
            if not affecting[v] & wanted:
                fixing.append(v)
                if not affecting[v]:
                    clean.append(v)
                    if _allowed(v, constraints):
                        break
        if not fixing:
            open_ = sorted(wanted & index.unfixed)
            reason = (
                f"no fix is known for {', '.join(open_)}" if open_ else "no fixed version covers them all"
            )
            return Fix(None, f"no single version fixes every advisory: {reason}")
        count = f"{len(wanted)} advisor{'y' if len(wanted) == 1 else 'ies'}"
        kind = "version" if prereleases else "final release"
        for tier, note in ((clean, "outside every affected range"), (fixing, f"fixing the {count}")):
            allowed = [v for v in tier if _allowed(v, constraints)]
            if not allowed:
                continue
            version = allowed[0]
            text = f"{version} is the lowest {kind} {note}"
            if version != tier[0]:
                text += f"; {tier[0]} would too but {_refusals(tier[0], constraints)}"
            others = sorted(affecting[version] - wanted)
            if others:
                text += f"; {version} is still affected by {', '.join(others)}"
            return Fix(str(version), text)
        return Fix(
            None,
            f"{fixing[0]} fixes every advisory but {_refusals(fixing[0], constraints)}, "
            "and no higher fixed version is allowed either",
        )


def first_final(version: Version) -> Version:
    """The lowest final release not below ``version``: itself when final, else its release without
    the pre-release and dev parts (``2.0rc1``, ``2.0.dev0`` -> ``2.0``; ``2.0.post1.dev0`` ->
    ``2.0.post1``)."""
    if not version.is_prerelease:
        return version
    epoch = f"{version.epoch}!" if version.epoch else ""
    release = ".".join(str(part) for part in version.release)
    post = f".post{version.post}" if version.pre is None and version.post is not None else ""
    return Version(f"{epoch}{release}{post}")


def fix_candidates(named: Iterable[Version], *, prereleases: bool = False) -> set[Version]:
    """The versions a fix may be: the named ones, pre-releases replaced by the first final release
    after them (kept as well when pre-releases are asked for). Local labels are dropped."""
    found = set()
    for version in named:
        public = Version(version.public) if version.local else version
        found.add(first_final(public))
        if prereleases:
            found.add(public)
    return found


def _allowed(version: Version, constraints: list[Constraint]) -> bool:
    return all(c.specifier.contains(version, prereleases=True) for c in constraints)


def _refusals(version: Version, constraints: list[Constraint]) -> str:
    refused = [str(c) for c in constraints if not c.specifier.contains(version, prereleases=True)]
    return "the requirements refuse it: " + "; ".join(refused)
