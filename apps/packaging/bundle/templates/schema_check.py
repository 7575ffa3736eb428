"""Check records against a model's input schema. Standard library only, so any client can use it too.

A schema is {"features": [{"name", "type", "nullable", "min", "max", "categories"}, ...]} with type one
of number, integer, boolean, categorical, text, datetime. Error messages name the record and the
feature but never repeat a submitted value: request bodies can hold personal data, and error
responses end up in logs and tickets.

A value outside a feature's min–max or categories (usually the reference data's, as inferred at
registration) is data, not an error: it is accepted, and counted in ``outside`` (a Counter of
(feature, kind)) when the caller passes one, so a later year's applications are scored and the
shift reaches monitoring. Only the features named in ``refuse_outside`` refuse such values.
"""

import collections
import dataclasses
import datetime
import itertools
import math
import numbers

PAYLOAD_KEYS = ("records", "dataframe_records", "dataframe_split", "instances", "inputs")
_SHAPES = (
    '{"records": [{...}]}, {"dataframe_records": [{...}]}, '
    '{"dataframe_split": {"columns": [...], "data": [[...]]}}, {"instances": [{...}]} '
    'or {"inputs": {"column": [...]}}'
)
_MAX_NAMES_LISTED = 20
# Kinds of accepted values outside a feature's range or categories, as counted in ``outside``.
BELOW_MIN, ABOVE_MAX, UNKNOWN_CATEGORY = "below_min", "above_max", "unknown_category"


def records_from_payload(payload) -> list[dict]:
    """The records of a request body in any of the accepted shapes; ValueError saying what is wrong."""
    if not isinstance(payload, dict):
        raise ValueError(f"the body must be a JSON object, one of: {_SHAPES}")
    present = [key for key in PAYLOAD_KEYS if key in payload]
    if len(present) != 1:
        found = "none" if not present else "more than one"
        raise ValueError(f"the body must have exactly one of {', '.join(PAYLOAD_KEYS)} (found {found})")
    key = present[0]
    body = payload[key]
    if key == "dataframe_split":
        records = _from_split(body)
    elif key in ("instances", "inputs") and isinstance(body, dict):
        records = _from_columns(body, key)
    else:
        records = _from_rows(body, key)
    if not records:
        raise ValueError(f"{key} holds no records: send at least one")
    return records


def record_count(payload) -> int:
    """How many records records_from_payload would make of a body, counted without making them
    (0 when it would refuse the body): a server can refuse too many before paying for them."""
    if not isinstance(payload, dict):
        return 0
    present = [key for key in PAYLOAD_KEYS if key in payload]
    if len(present) != 1:
        return 0
    key, body = present[0], payload[present[0]]
    if key == "dataframe_split":
        data = body.get("data") if isinstance(body, dict) else None
        return len(data) if isinstance(data, list) else 0
    if key in ("instances", "inputs") and isinstance(body, dict):
        return max((len(values) for values in body.values() if isinstance(values, list)), default=0)
    return len(body) if isinstance(body, list) else 0


def _from_rows(rows, key: str) -> list[dict]:
    if not isinstance(rows, list):
        raise ValueError(f"{key} must be a list of objects, one per record")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"{key}[{i}] must be an object of feature name to value")
    return rows


def _from_columns(columns: dict, key: str) -> list[dict]:
    if not all(isinstance(values, list) for values in columns.values()):
        raise ValueError(f"every value in {key} must be a list, one value per record")
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"the columns in {key} have different lengths")
    count = lengths.pop() if lengths else 0
    return [{name: values[i] for name, values in columns.items()} for i in range(count)]


def _from_split(split) -> list[dict]:
    if not isinstance(split, dict) or not isinstance(split.get("columns"), list):
        raise ValueError('dataframe_split must be an object with a "columns" list and a "data" list')
    columns, data = split["columns"], split.get("data")
    if not all(isinstance(c, str) for c in columns):
        raise ValueError("dataframe_split.columns must be a list of strings")
    if len(set(columns)) != len(columns):
        raise ValueError("dataframe_split.columns has a repeated name")
    if not isinstance(data, list):
        raise ValueError("dataframe_split.data must be a list of rows")
    records = []
    for i, row in enumerate(data):
        if not isinstance(row, list):
            raise ValueError(f"dataframe_split.data[{i}] must be a list of values")
        if len(row) != len(columns):
            raise ValueError(f"dataframe_split.data[{i}] has {len(row)} values for {len(columns)} columns")
        records.append(dict(zip(columns, row, strict=True)))
    return records


def validate_records(
    records: list[dict], schema: dict, *, allow_extra: bool = False, refuse_outside=(), outside=None
) -> list[str]:
    """Every way the records break the schema, e.g. "records[3].Age: expected integer"; [] if none.
    A feature absent from every record is reported once, as "missing feature Income"."""
    return list(_errors(records, schema, allow_extra, refuse_outside, outside))


def first_errors(
    records: list[dict],
    schema: dict,
    *,
    limit: int,
    allow_extra: bool = False,
    refuse_outside=(),
    outside=None,
) -> tuple[list[str], int]:
    """The first ``limit`` of validate_records' errors and how many there are in all: a server
    answers and logs a bounded list however many records break the schema."""
    errors = _errors(records, schema, allow_extra, refuse_outside, outside)
    listed = list(itertools.islice(errors, limit))
    return listed, len(listed) + sum(1 for _ in errors)


def _errors(records: list[dict], schema: dict, allow_extra: bool, refuse_outside=(), outside=None):
    features = _features(schema)
    rows = [r for r in records if isinstance(r, dict)]
    absent = [name for name in features if rows and all(name not in r for r in rows)]
    for name in absent:
        yield f"missing feature {name}"
    if not allow_extra and features:  # with no features listed there is nothing to call extra
        unexpected = sorted({str(k) for r in rows for k in r} - set(features))
        if unexpected:
            yield f"unexpected fields: {_listed(unexpected)}"
    checked = {name: f for name, f in features.items() if name not in absent}
    found = [] if outside is not None else None
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            yield f"records[{i}]: expected an object"
            continue
        for feature, message in _record_problems(record, checked, refuse_outside, found):
            yield f"records[{i}].{feature}: {message}" if feature else f"records[{i}]: {message}"
    if found:
        outside.update(found)


@dataclasses.dataclass
class Split:
    """Records checked one by one (partial scoring): the indices of those that fit, each other
    one's errors, and the outside-range counts of the ones that fit."""

    good: list[int]
    errors: dict[int, list[str]]
    outside: collections.Counter

    @property
    def error_count(self) -> int:
        return sum(len(errors) for errors in self.errors.values())

    def first_errors(self, limit: int) -> list[str]:
        return list(itertools.islice((e for errors in self.errors.values() for e in errors), limit))


def split_records(
    records: list[dict], schema: dict, *, allow_extra: bool = False, refuse_outside=()
) -> Split:
    """Each record judged on its own: a missing feature or an unexpected field refuses only the
    records it is in (messages "records[3]: missing feature Income", "records[3]: unexpected
    fields: 'note'"). Counts of outside values are kept for the records that fit only."""
    features = _features(schema)
    known = set(features)
    split = Split([], {}, collections.Counter())
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            split.errors[i] = [f"records[{i}]: expected an object"]
            continue
        found = []
        problems = [
            f"records[{i}].{feature}: {message}" if feature else f"records[{i}]: {message}"
            for feature, message in _record_problems(record, features, refuse_outside, found)
        ]
        if not allow_extra and features:
            unexpected = sorted(str(k) for k in record if k not in known)
            if unexpected:
                problems.append(f"records[{i}]: unexpected fields: {_listed(unexpected)}")
        if problems:
            split.errors[i] = problems
        else:
            split.good.append(i)
            split.outside.update(found)
    return split


def record_errors(record: dict, schema: dict, *, refuse_outside=(), outside=None) -> list[str]:
    """One record's problems, e.g. "Age: expected integer" or "missing feature Income"; extra keys are
    not checked (a file being scored usually has an id or label column besides the features).
    Outside values of a record that fits are added to ``outside``."""
    found = [] if outside is not None else None
    problems = _record_problems(record, _features(schema), refuse_outside, found)
    if found and not problems:
        outside.update(found)
    return [f"{feature}: {message}" if feature else message for feature, message in problems]


_FEATURES_CACHE: dict[int, tuple[dict, dict[str, dict]]] = {}


def _features(schema: dict) -> dict[str, dict]:
    """Feature name → feature, worked out once per schema object (a server checks every request
    against the same dict). The entry keeps its schema alive, so its id is not reused meanwhile;
    a schema is never changed in place once requests are checked against it."""
    cached = _FEATURES_CACHE.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    features = {
        str(f["name"]): f for f in (schema or {}).get("features", []) if isinstance(f, dict) and "name" in f
    }
    if len(_FEATURES_CACHE) > 256:
        _FEATURES_CACHE.clear()
    _FEATURES_CACHE[id(schema)] = (schema, features)
    return features


def _record_problems(
    record: dict, features: dict[str, dict], refuse_outside=(), outside: list | None = None
) -> list[tuple[str, str]]:
    """(feature, message) per problem. A value outside its feature's range or categories is a
    problem only for the features in ``refuse_outside``; otherwise (feature, kind) goes to
    ``outside``, a list, when one is given."""
    problems = []
    for name, feature in features.items():
        if name not in record:
            problems.append(("", f"missing feature {name}"))
            continue
        value = record[name]
        if is_missing(value):
            if not feature.get("nullable", False):
                problems.append((name, "null is not allowed"))
            continue
        message = value_problem(value, feature)
        if message:
            problems.append((name, message))
            continue
        kind = outside_kind(value, feature)
        if kind is None:
            continue
        if name in refuse_outside:
            problems.append((name, _outside_message(kind, feature)))
        elif outside is not None:
            outside.append((name, kind))
    return problems


def is_missing(value) -> bool:
    kind = type(value)
    if kind is int or kind is str or kind is bool:  # most values: answered without the checks below
        return False
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    # pandas' NA and NaT, recognised without importing pandas
    return kind.__name__ in ("NAType", "NaTType")


def value_problem(value, feature: dict) -> str | None:
    """What is wrong with the type of one present value, in words that do not repeat it; None when
    it fits. Whether it lies inside the feature's range is outside_kind's question."""
    kind = feature.get("type")
    if kind in ("number", "integer"):
        return _number_problem(value, integer=kind == "integer")
    if kind == "boolean":
        return None if _is_bool(value) else "expected boolean"
    if kind == "categorical":
        return None if category_label(value) is not None else "expected string"
    if kind == "text":
        return None if isinstance(value, str) else "expected string"
    if kind == "datetime":
        return None if _is_datetime(value) else "expected an ISO 8601 date or date-time"
    return None  # a type this checker does not know: leave it to the model


def outside_kind(value, feature: dict) -> str | None:
    """BELOW_MIN, ABOVE_MAX or UNKNOWN_CATEGORY for a value of the right type outside the feature's
    min–max or categories; None inside them (or when the feature lists none)."""
    kind = feature.get("type")
    if kind in ("number", "integer"):
        low, high = feature.get("min"), feature.get("max")
        if isinstance(low, int | float) and value < low:
            return BELOW_MIN
        if isinstance(high, int | float) and value > high:
            return ABOVE_MAX
        return None
    if kind == "categorical":
        categories = feature.get("categories")
        if categories and category_label(value) not in _category_set(categories):
            return UNKNOWN_CATEGORY
    return None


def _outside_message(kind: str, feature: dict) -> str:
    if kind == BELOW_MIN:
        return f"below the allowed minimum {feature.get('min')}"
    if kind == ABOVE_MAX:
        return f"above the allowed maximum {feature.get('max')}"
    return "unknown category"


def _number_problem(value, *, integer: bool) -> str | None:
    expected = "expected integer" if integer else "expected number"
    kind = type(value)  # plain ints and floats (JSON's numbers) skip the slower checks
    if kind is not int and kind is not float and (_is_bool(value) or not isinstance(value, numbers.Real)):
        return expected
    number = float(value)
    if not math.isfinite(number):
        return "expected a finite number"
    if integer and not number.is_integer():
        return expected
    return None


_CATEGORY_SETS: dict[int, tuple[list, frozenset]] = {}


def _category_set(categories: list) -> frozenset:
    """A schema's categories as a set of strings, made once per list (as _features does)."""
    cached = _CATEGORY_SETS.get(id(categories))
    if cached is not None and cached[0] is categories:
        return cached[1]
    labels = frozenset(map(str, categories))
    if len(_CATEGORY_SETS) > 1024:
        _CATEGORY_SETS.clear()
    _CATEGORY_SETS[id(categories)] = (categories, labels)
    return labels


def category_label(value) -> str | None:
    """A category as the string the schema lists it by: numbers sent as JSON numbers count, and whole
    floats lose their ".0" (a CSV column of codes with a gap is read as floats)."""
    if isinstance(value, str):
        return value
    if _is_bool(value):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and math.isfinite(float(value)):
        number = float(value)
        return str(int(number)) if number.is_integer() else str(number)
    return None


def _is_bool(value) -> bool:
    # numpy's bool (numpy.bool_, named numpy.bool since 2.0) is no Python bool nor int
    return isinstance(value, bool) or (
        type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    )


def _is_datetime(value) -> bool:
    if isinstance(value, datetime.date):  # datetime and pandas' Timestamp are dates too
        return True
    if not isinstance(value, str):
        return False
    try:
        datetime.datetime.fromisoformat(value)  # dates alone parse too
    except ValueError:
        return False
    return True


def feature_list(text: str) -> frozenset:
    """Feature names from a comma-separated setting ("Age, Income"), blanks dropped."""
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def _listed(names: list[str]) -> str:
    shown = [repr(n[:60]) for n in names[:_MAX_NAMES_LISTED]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
