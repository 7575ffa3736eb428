"""Read OSV advisories (JSON, or YAML as the PyPA advisory database keeps them) from a directory or
a .zip/.tar.gz archive, and check them. No Django here.

A problem is reported with the file and the field it is in. An ``error`` skips the advisory; a
``warning`` keeps it with the bad part left out, said how. Only PyPI packages and ECOSYSTEM ranges
are kept: GIT ranges name commits, which a lockfile does not record.
"""

import io
import json
import re
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

try:  # libyaml's loader is ~10x faster on the 2,661 files of the PyPA database
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Loader

SUFFIXES = (".json", ".yaml", ".yml")
MAX_FILE_BYTES = 5 * 1024 * 1024  # the largest advisory in the PyPA database is ~60 kB
_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str
    level: str = "error"  # "error": the advisory was skipped; "warning": kept without the bad part

    def as_dict(self) -> dict:
        return {"file": self.file, "field": self.field, "message": self.message, "level": self.level}


@dataclass(frozen=True)
class Interval:
    """Affected from ``introduced`` (None: from the first release) up to ``fixed`` (excluded) or
    ``last_affected`` (included); neither: no fix is known."""

    introduced: str | None
    fixed: str | None = None
    last_affected: str | None = None

    def as_dict(self) -> dict:
        return {"introduced": self.introduced, "fixed": self.fixed, "last_affected": self.last_affected}


@dataclass
class Affected:
    name: str  # PEP 503 normalised
    intervals: list[Interval] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)


@dataclass
class Advisory:
    id: str
    modified: datetime
    published: datetime | None
    withdrawn: datetime | None
    aliases: list[str]
    summary: str
    details: str
    vectors: list[str]  # CVSS vectors from `severity`
    stated: list[tuple[str, str]]  # (field, word): severities stated without a vector, best first
    affected: list[Affected]
    references: list[dict]
    raw: dict  # JSON-safe copy of the document
    file: str = ""


class Invalid(Exception):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


# ---- reading files ------------------------------------------------------------------------------


def read_sources(path: str | Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every .json/.yaml/.yml advisory in a directory (recursively) or a .zip,
    .tar.gz, .tgz or .tar archive, in name order. Raises ValueError for anything else."""
    path = Path(path)
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES):
            yield str(file.relative_to(path)), file.read_bytes()[: MAX_FILE_BYTES + 1]
        return
    if not path.is_file():
        raise ValueError(f"{path}: no such directory or archive")
    if not path.name.lower().endswith((".zip", ".tar.gz", ".tgz", ".tar")):
        raise ValueError(f"{path.name}: expected a directory, a .zip or a .tar.gz archive of OSV files")
    yield from load_bytes_archive(path.name, path.read_bytes())


def _advisory_member(name: str) -> bool:
    """Archive members are read, never extracted; odd paths are skipped rather than trusted."""
    parts = PurePosixPath(name).parts
    return name.lower().endswith(SUFFIXES) and ".." not in parts and not any(p.startswith(".") for p in parts)


def load(name: str, content: bytes) -> tuple[Advisory | None, list[Problem]]:
    """Parse and check one file's bytes."""
    if len(content) > MAX_FILE_BYTES:
        return None, [Problem(name, "(file)", f"larger than {MAX_FILE_BYTES // 1024 // 1024} MB")]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, "(file)", f"not UTF-8 text: {exc}")]
    try:
        data = json.loads(text) if name.lower().endswith(".json") else yaml.load(text, Loader=_Loader)
    except RecursionError:
        return None, [Problem(name, "(file)", "nested too deeply to be an advisory")]
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if name.lower().endswith(".json") else "YAML"
        return None, [Problem(name, "(file)", f"not valid {kind}: {str(exc).splitlines()[0][:200]}")]
    return parse(data, file=name)


# ---- checking one document ----------------------------------------------------------------------


def parse(data, *, file: str = "") -> tuple[Advisory | None, list[Problem]]:
    warnings: list[Problem] = []
    try:
        advisory = _parse(data, file, warnings)
    except Invalid as exc:
        return None, [Problem(file, exc.field, exc.message), *warnings]
    return advisory, warnings


def _parse(data, file: str, warnings: list[Problem]) -> Advisory:
    if not isinstance(data, dict):
        raise Invalid("(document)", f"expected a mapping, got {type(data).__name__}")
    advisory_id = data.get("id")
    if not isinstance(advisory_id, str) or not advisory_id.strip():
        raise Invalid("id", "missing or not a string")
    modified = _timestamp(data.get("modified"), "modified", required=True)
    published = _timestamp(data.get("published"), "published")
    withdrawn = _timestamp(data.get("withdrawn"), "withdrawn")
    aliases = _strings(data.get("aliases"), "aliases")
    affected_raw = data.get("affected")
    if withdrawn is None and (not isinstance(affected_raw, list) or not affected_raw):
        raise Invalid("affected", "missing or empty: the advisory names no package")
    affected = []
    for i, entry in enumerate(affected_raw or []):
        parsed = _affected(entry, f"affected[{i}]", file, warnings)
        if parsed is not None:
            affected.append(parsed)
    vectors, stated = [], []
    for i, item in enumerate(data.get("severity") or []):
        if not isinstance(item, dict) or not isinstance(item.get("score"), str):
            raise Invalid(f"severity[{i}]", "expected {type, score} with a vector string as score")
        if str(item.get("type", "")).startswith("CVSS_V"):
            vectors.append(item["score"])
        else:  # e.g. Ubuntu's {type: Ubuntu, score: medium}
            stated.append((f"severity[{i}] ({item.get('type')})", item["score"]))
    stated.extend(_stated_severities(data))
    references = [r for r in data.get("references") or [] if isinstance(r, dict)]
    return Advisory(
        id=advisory_id.strip(),
        modified=modified,
        published=published,
        withdrawn=withdrawn,
        aliases=aliases,
        summary=str(data.get("summary") or ""),
        details=str(data.get("details") or ""),
        vectors=vectors,
        stated=stated,
        affected=affected,
        references=references,
        raw=json_safe(data),
        file=file,
    )


def _stated_severities(data: dict) -> list[tuple[str, str]]:
    """Severity words a database states in its own fields (GitHub's ``database_specific.severity``,
    and the same key per affected package or under ``ecosystem_specific``), top level first."""
    found = []
    places = [("", data)] + [
        (f"affected[{i}].", entry)
        for i, entry in enumerate(data.get("affected") or [])
        if isinstance(entry, dict)
    ]
    for prefix, holder in places:
        for key in ("database_specific", "ecosystem_specific"):
            specific = holder.get(key)
            if isinstance(specific, dict) and isinstance(specific.get("severity"), str):
                found.append((f"{prefix}{key}.severity", specific["severity"]))
    return found


def _affected(entry, where: str, file: str, warnings: list[Problem]) -> Affected | None:
    if not isinstance(entry, dict):
        raise Invalid(where, "expected a mapping")
    package = entry.get("package")
    if not isinstance(package, dict) or not isinstance(package.get("name"), str) or not package["name"]:
        raise Invalid(f"{where}.package.name", "missing or not a string")
    if package.get("ecosystem") != "PyPI":
        return None  # another ecosystem's package: not ours to match
    affected = Affected(name=canonicalize_name(package["name"]))
    ranges = entry.get("ranges") or []
    if not isinstance(ranges, list):
        raise Invalid(f"{where}.ranges", "expected a list")
    for r, rng in enumerate(ranges):
        rwhere = f"{where}.ranges[{r}]"
        if not isinstance(rng, dict) or not isinstance(rng.get("events"), list) or not rng["events"]:
            raise Invalid(f"{rwhere}.events", "missing or not a list of events")
        if rng.get("type") not in ("ECOSYSTEM", "SEMVER", "GIT"):
            raise Invalid(f"{rwhere}.type", f"unknown range type {rng.get('type')!r}")
        if rng["type"] == "GIT":
            continue
        affected.intervals.extend(_intervals(rng["events"], rwhere, file, warnings))
    versions = entry.get("versions") or []
    if not isinstance(versions, list):
        raise Invalid(f"{where}.versions", "expected a list")
    affected.versions = [str(v) for v in versions]
    if not affected.intervals and not affected.versions and ranges:
        return affected  # GIT ranges only: kept, matches nothing
    return affected


def _intervals(events: list, where: str, file: str, warnings: list[Problem]) -> list[Interval]:
    """Events sorted by version, then walked as OSV evaluates them: an ``introduced`` opens an
    interval that the next ``fixed`` or ``last_affected`` closes."""
    parsed: list[tuple[Version | None, str, str]] = []
    for e, event in enumerate(events):
        ewhere = f"{where}.events[{e}]"
        if not isinstance(event, dict) or len(event) != 1:
            raise Invalid(ewhere, "expected exactly one of introduced, fixed, last_affected, limit")
        ((kind, value),) = event.items()
        if kind == "limit":
            continue  # limits only apply to GIT ranges
        if kind not in ("introduced", "fixed", "last_affected"):
            raise Invalid(f"{ewhere}.{kind}", "unknown event")
        text = str(value).strip()
        if kind == "introduced" and text == "0":
            parsed.append((None, kind, text))
            continue
        try:
            parsed.append((Version(text), kind, text))
        except InvalidVersion:
            consequence = {
                "introduced": "the range is skipped",
                "fixed": "the range is treated as having no fix",
                "last_affected": "the range is treated as having no fix",
            }[kind]
            warnings.append(
                Problem(
                    file, f"{ewhere}.{kind}", f"{text!r} is not a PEP 440 version: {consequence}", "warning"
                )
            )
            if kind == "introduced":
                return []
    # "introduced: 0" first; at one version, introduced before fixed (OSV's order).
    parsed.sort(key=lambda p: (p[0] is not None, p[0] or Version("0"), p[1] != "introduced"))
    intervals: list[Interval] = []
    start: str | None = None
    open_ = False
    for version, kind, _text in parsed:
        if kind == "introduced":
            if not open_:
                start, open_ = (None if version is None else str(version)), True
        elif open_:
            if kind == "fixed":
                intervals.append(Interval(start, fixed=str(version)))
            else:
                intervals.append(Interval(start, last_affected=str(version)))
            open_ = False
    if open_:
        intervals.append(Interval(start))
    return intervals


def _timestamp(value, field_name: str, required: bool = False) -> datetime | None:
    """RFC 3339 text or, when YAML read an unquoted timestamp, a datetime; always made UTC."""
    if value is None or value == "":
        if required:
            raise Invalid(field_name, "missing")
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = _FRACTION.sub(r"\1", value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise Invalid(field_name, f"not an RFC 3339 timestamp: {value[:60]!r}") from None
    else:
        raise Invalid(field_name, f"expected a timestamp, got {type(value).__name__}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _strings(value, field_name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(field_name, "expected a list of strings")
    return list(value)


def json_safe(value):
    """The document as JSON can hold it: YAML's datetimes become RFC 3339 strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def load_bytes_archive(name: str, content: bytes) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each advisory in an archive held in memory (a file or an upload)."""
    lower = name.lower()
    if lower.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                if not info.is_dir() and _advisory_member(info.filename):
                    with archive.open(info) as handle:
                        yield info.filename, handle.read(MAX_FILE_BYTES + 1)
        return
    if lower.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:*") as archive:
            for member in sorted(archive.getmembers(), key=lambda m: m.name):
                if member.isfile() and _advisory_member(member.name):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        yield member.name, handle.read(MAX_FILE_BYTES + 1)
        return
    if lower.endswith(SUFFIXES):
        yield name, content
        return
    raise ValueError(f"{name}: expected a .zip or .tar.gz archive, or one .json/.yaml advisory")
