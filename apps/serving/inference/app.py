"""The inference service's WSGI application: plain Python on the request path (no Django), so a
request costs a dict lookup, a JSON parse, a schema check and the model's own time.

    POST /v1/endpoints/<name>/predict[?environment=...][&partial=true]   score records
    GET  /health                                          routes and models loaded in this worker
    GET  /metrics                                         Prometheus text, to the scraper's token only

A predict request presents its endpoint's consumer key as ``Authorization: Bearer <key>``
(required when ``require_keys``; checked whenever one is sent). A key that is wrong, revoked, of
another endpoint or for an endpoint that does not exist gets the same 401, so a caller learns
nothing about endpoints it holds no key for. A client's ``X-Request-ID`` is claimed per endpoint
before the model runs: a reuse is a 409, never an answer whose log row would be dropped.

Records that break the input schema (a type, a missing feature, a null where none is allowed)
refuse the whole request with a 422 listing each bad record's index and field. With
``?partial=true`` the records that fit are scored and answered at their indices and the others
are listed. A value outside the schema's min-max or categories is not such a break: it is scored,
logged and counted per feature (``inference_outside_range_values``), unless the endpoint lists the
feature in ``refuse_outside``.
"""

import collections
import copy
import datetime
import hmac
import logging
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qs

import numpy as np
import pandas as pd

from apps.packaging.bundle.templates.schema_check import (
    UNKNOWN_CATEGORY,
    first_errors,
    record_count,
    records_from_payload,
    split_records,
    validate_records,
)
from apps.serving.inference.cache import ModelCache, ModelUnavailable
from apps.serving.inference.choosing import choose_arm
from apps.serving.inference.keys import hash_key, presented_key
from apps.serving.inference.metrics import Metrics, field_problem
from apps.serving.inference.payload import BadRequest, parse_json, read_body, to_json
from apps.serving.inference.requestids import MemoryRequestIds, claim_key
from apps.serving.inference.routes import SHADOW, Arm, Route, RouteTable
from apps.serving.inference.shadows import ShadowRunner
from apps.serving.inference.sla import SlaAccumulator

log = logging.getLogger(__name__)

LogFn = Callable[[list[dict]], None]

_PREDICT_PATH = re.compile(r"/v1/endpoints/(?P<endpoint>[^/]{1,200})/predict")
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_UNKNOWN = "(unknown)"  # the endpoint label of requests for endpoints that do not exist: bounded
# Request ids the platform makes itself; a client's X-Request-ID may not start with one of these.
GENERATED_PREFIX = "modelyard-"
RESERVED_PREFIXES = (GENERATED_PREFIX, "batch-")
_NEEDS_KEY = (
    "this endpoint needs a consumer key: send 'Authorization: Bearer <key>' "
    "(the endpoint's team or IT creates keys on the deployments page or with `modelyard keys create`)"
)
_BAD_KEY = "the consumer key is not valid for this endpoint"
_CHALLENGE = ("WWW-Authenticate", 'Bearer realm="modelyard-inference"')
# On every 503 of a predict request: each is a passing condition (routes, models, the log, claims).
_RETRY_AFTER = ("Retry-After", "2")
_NO_ROUTES_YET = (
    "the inference service has no routes yet: its route source (the database) has not answered "
    "since it started and no saved copy was found; retry shortly"
)
# Schema errors listed in a 422 and in its rejected-request log row; "error_count" has them all.
MAX_ERRORS_LISTED = 100
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def make_app(
    table: RouteTable,
    log: LogFn,
    *,
    max_body_bytes: int = 1_000_000,
    max_depth: int = 20,
    max_records: int = 10_000,
    default_environment: str = "production",
    cache: ModelCache | None = None,
    metrics: Metrics | None = None,
    shadows: ShadowRunner | None = None,
    rng: random.Random | None = None,
    warm_models: bool = True,
    sla: SlaAccumulator | None = None,
    require_keys: bool = False,
    request_ids=None,
    metrics_token: str = "",
) -> "InferenceApp":
    """The WSGI callable. ``log(rows)`` must make the rows durable before it returns; it is called
    before every successful answer, and an exception from it turns the answer into a 503.
    ``request_ids`` claims client request ids (apps/serving/inference/requestids.py; one store per
    process by default); ``metrics_token`` is the bearer token /metrics answers to (none: off)."""
    return InferenceApp(
        table,
        log,
        max_body_bytes=max_body_bytes,
        max_depth=max_depth,
        max_records=max_records,
        default_environment=default_environment,
        cache=cache or ModelCache(),
        metrics=metrics or Metrics(),
        shadows=shadows or ShadowRunner(),
        rng=rng or random.Random(),
        warm_models=warm_models,
        sla=sla,
        require_keys=require_keys,
        request_ids=request_ids,
        metrics_token=metrics_token,
    )


class _Answer(Exception):
    """Stops a request early with this status and JSON body."""

    def __init__(self, status: int, body: dict):
        super().__init__(status)
        self.status = status
        self.body = body


class InferenceApp:
    def __init__(
        self,
        table,
        log,
        *,
        max_body_bytes,
        max_depth,
        max_records,
        default_environment,
        cache,
        metrics,
        shadows,
        rng,
        warm_models,
        sla=None,
        require_keys=False,
        request_ids=None,
        metrics_token="",
    ):
        self.table = table
        self.log = log
        self.max_body_bytes = max_body_bytes
        self.max_depth = max_depth
        self.max_records = max_records
        self.default_environment = default_environment
        self.cache = cache
        self.metrics = metrics
        self.shadows = shadows
        self.rng = rng
        self.warm_models = warm_models
        self.sla = sla  # service-level counts per minute, flushed to the log (None: not kept)
        self.require_keys = require_keys
        self.request_ids = request_ids or MemoryRequestIds()
        self.metrics_token = metrics_token or ""
        table.on_change(self._routes_changed)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        headers = [("X-Served-By", str(os.getpid()))]
        try:
            match = _PREDICT_PATH.fullmatch(path)
            if match:
                if method != "POST":
                    return _respond(
                        start_response, 405, {"detail": "use POST"}, headers + [("Allow", "POST")]
                    )
                request_id, chosen = _request_id(environ)
                headers.append(("X-Request-ID", request_id))
                status, body = self._predict(environ, match["endpoint"], request_id, chosen)
                if status == 401:
                    headers.append(_CHALLENGE)
                elif status == 503:
                    headers.append(_RETRY_AFTER)
                return _respond(start_response, status, body, headers)
            if path in ("/health", "/metrics") and method not in ("GET", "HEAD"):
                return _respond(start_response, 405, {"detail": "use GET"}, headers + [("Allow", "GET")])
            if path == "/health":
                return self._health(start_response, headers)
            if path == "/metrics":
                refused = self._refuse_scraper(environ)
                if refused is not None:
                    status, body = refused
                    return _respond(start_response, status, body, headers + [_CHALLENGE] * (status == 401))
                text, content_type = self.metrics.exposition()
                return _respond(start_response, 200, text, headers, content_type=content_type)
            return _respond(start_response, 404, {"detail": "not found"}, headers)
        except Exception:
            log.exception("the inference service failed on %s %s", method, path)
            return _respond(start_response, 500, {"detail": "internal error"}, headers)

    def _refuse_scraper(self, environ) -> tuple[int, dict] | None:
        """None for the scraper holding the metrics token; the refusal otherwise."""
        if not self.metrics_token:
            return 403, {
                "detail": "metrics are off: set MODELYARD_METRICS_TOKEN and scrape with "
                "'Authorization: Bearer <token>'"
            }
        given = presented_key(environ)
        if given and hmac.compare_digest(given.encode(), self.metrics_token.encode()):
            return None
        return 401, {"detail": "/metrics needs the scraper's token: 'Authorization: Bearer <token>'"}

    def _health(self, start_response, headers):
        loaded = self.table.loaded
        body = {
            "status": "ok" if loaded else "starting",
            "routes": len(self.table),
            "routes_from": self.table.origin,  # "source", "saved" (while the source is down), None
            "models_loaded": len(self.cache),
        }
        return _respond(start_response, 200 if loaded else 503, body, headers)

    # --- scoring ---------------------------------------------------------------------------------

    def _predict(self, environ, endpoint: str, request_id: str, chosen: bool) -> tuple[int, dict]:
        started = time.perf_counter()
        query = parse_qs(environ.get("QUERY_STRING", ""))
        environment = query.get("environment", [self.default_environment])[0]
        route = self.table.get(environment, endpoint)
        if route is None and not self.table.loaded:  # not "no such endpoint": we cannot know yet
            self._count(_UNKNOWN, "", 503)
            return 503, {"detail": _NO_ROUTES_YET, "request_id": request_id}
        refusal = self._refuse_key(environ, route)
        if refusal is not None:
            self._count(route.endpoint if route else _UNKNOWN, "", 401, environment if route else None)
            return 401, {"detail": refusal, "request_id": request_id}
        if route is None:
            self._count(_UNKNOWN, "", 404)
            return 404, {
                "detail": f"no endpoint '{_clip(endpoint)}' in environment '{_clip(environment)}'",
                "request_id": request_id,
            }
        if chosen and request_id.startswith(RESERVED_PREFIXES):
            self._count(route.endpoint, "", 400, environment)
            return 400, {
                "detail": f"X-Request-ID may not start with {' or '.join(map(repr, RESERVED_PREFIXES))}: "
                "those request ids are Modelyard's own",
                "request_id": request_id,
            }
        try:
            return self._score(environ, route, environment, request_id, chosen, started)
        except _Answer as answer:
            return answer.status, {**answer.body, "request_id": request_id}

    def _refuse_key(self, environ, route: Route | None) -> str | None:
        """Why the request's consumer key is refused, or None. The same answer whether the
        endpoint does not exist or the key is another endpoint's: nothing to learn from it."""
        given = presented_key(environ)
        if given is None:
            return _NEEDS_KEY if self.require_keys else None
        if route is None or not given or hash_key(given) not in route.key_hashes:
            return _BAD_KEY
        return None

    def _claim(self, route: Route, environment: str, request_id: str, version: str) -> str:
        """Claim a client's request id on this endpoint: its key, or a 409 when it was used."""
        key = claim_key(environment, route.endpoint, request_id)
        try:
            claimed = self.request_ids.claim(key)
        except Exception:
            log.exception("could not claim request id %s; refusing the request", request_id)
            self.metrics.errors.labels(route.endpoint, "request_id").inc()
            self._count(route.endpoint, version, 503, environment)
            raise _Answer(503, {"detail": "request id store unavailable"}) from None
        if not claimed:
            self._count(route.endpoint, version, 409, environment)
            raise _Answer(
                409,
                {
                    "detail": f"request id '{request_id}' was already used on endpoint "
                    f"'{route.endpoint}' ({environment}); send a new X-Request-ID for a new request",
                },
            )
        return key

    def _release(self, key: str) -> None:
        """Give a claim back when its request got no answer, so the client may retry with it."""
        try:
            self.request_ids.release(key)
        except Exception:
            log.exception("could not release the claim of %s; it expires on its own", key)

    def _score(self, environ, route: Route, environment: str, request_id: str, chosen: bool, started: float):
        endpoint = route.endpoint
        try:
            partial = _partial(environ)
            payload = parse_json(read_body(environ, self.max_body_bytes), self.max_depth)
            count = record_count(payload)  # before any record is made: 2 bytes of `{}` make one
            if count > self.max_records:
                raise BadRequest(
                    413,
                    f"{count} records in one request; at most {self.max_records} are accepted: "
                    "send them in several requests, or score a file with a batch job",
                )
            records = records_from_payload(payload)
        except (BadRequest, ValueError) as exc:
            status = exc.status if isinstance(exc, BadRequest) else 400
            self._count(endpoint, "", status, environment)
            self.metrics.errors.labels(endpoint, "bad_request").inc()
            raise _Answer(status, {"detail": str(exc)}) from None

        arm = choose_arm(route, records[0], self.rng)
        if arm is None:
            self._count(endpoint, "", 503, environment)
            raise _Answer(503, {"detail": f"endpoint '{endpoint}' has no primary model deployed"})
        version = str(arm.version_number)

        checked = _without_sticky_key(records, route, arm)
        good, refused, outside = None, None, collections.Counter()
        if partial:
            split = split_records(
                checked, arm.input_schema, allow_extra=route.allow_extra, refuse_outside=route.refuse_outside
            )
            outside = split.outside
            if split.good and split.errors:
                good, refused = split.good, split
        # All or nothing: the default, and partial scoring when no record fits (the same 422).
        if not partial or not split.good:
            errors, error_count = first_errors(
                checked,
                arm.input_schema,
                limit=MAX_ERRORS_LISTED,
                allow_extra=route.allow_extra,
                refuse_outside=route.refuse_outside,
                outside=outside,
            )
            if errors:
                self._reject(route, environment, arm, request_id, len(records), errors, error_count)
                self._observe(endpoint, arm, started, environment)
                self._count(endpoint, version, 422, environment)
                raise _Answer(
                    422,
                    {
                        "detail": f"the records do not match the input schema of '{endpoint}'",
                        "errors": errors,
                        "error_count": error_count,
                    },
                )

        try:
            model = self.cache.get(arm)
        except ModelUnavailable:
            self.metrics.errors.labels(endpoint, "load").inc()
            self._count(endpoint, version, 503, environment)
            raise _Answer(503, {"detail": "the model is not available right now"}) from None

        scored = records if good is None else [records[i] for i in good]
        claimed = self._claim(route, environment, request_id, version) if chosen else None
        try:
            unseen = sorted({feature for (feature, kind) in outside if kind == UNKNOWN_CATEGORY})
            predictions, probabilities = self._run_and_log(
                route, environment, arm, model, request_id, scored, started, rows=good, unseen=unseen
            )
        except BaseException:
            if claimed is not None:
                self._release(claimed)
            raise

        for (feature, kind), n in outside.items():
            self.metrics.outside_range.labels(endpoint, feature, kind).inc(n)
        body = {
            "request_id": request_id,
            "model": arm.model_name,
            "version": arm.version_number,
            "deployment": arm.deployment_id,
            "predictions": predictions,
        }
        if probabilities is not None:
            body["probabilities"] = probabilities
        if model.classes is not None:
            body["classes"] = model.classes
        if refused is not None:
            # Answers at the request's own indices: null where a record was refused.
            body["predictions"] = _at_indices(predictions, good, len(records))
            if probabilities is not None:
                body["probabilities"] = _at_indices(probabilities, good, len(records))
            errors, error_count = refused.first_errors(MAX_ERRORS_LISTED), refused.error_count
            body["refused"] = list(refused.errors)
            body["errors"] = errors
            body["error_count"] = error_count
            self._reject(route, environment, arm, request_id, len(refused.errors), errors, error_count)
        self._observe(endpoint, arm, started, environment)
        self._count(endpoint, version, 200, environment)
        self._start_shadows(route, environment, request_id, scored, rows=good)
        return 200, body

    def _run_and_log(
        self,
        route: Route,
        environment: str,
        arm: Arm,
        model,
        request_id: str,
        records,
        started,
        rows=None,
        unseen=(),
    ):
        """The model's (predictions, probabilities), durable in the log; _Answer on failure.
        ``rows``: each record's index in the request (partial scoring), 0, 1, … by default.
        ``unseen``: features holding a category the reference never had (accepted by default)."""
        endpoint, version = route.endpoint, str(arm.version_number)
        try:
            predictions, probabilities = _run_model(model, records, arm.input_schema)
        except Exception as exc:
            # The message may quote the input (pandas and sklearn do), so only its type is logged.
            log.error(
                "model %s v%s failed on request %s: %s",
                arm.model_name,
                version,
                request_id,
                type(exc).__name__,
            )
            self.metrics.errors.labels(endpoint, "model").inc()
            self._observe(endpoint, arm, started, environment)
            if unseen:
                # Most likely an encoder that refuses unknown categories: the caller can act on it.
                self._count(endpoint, version, 422, environment)
                raise _Answer(
                    422,
                    {
                        "detail": f"the model could not score categories it was not trained on in "
                        f"{', '.join(unseen)}; the endpoint's team can have such values refused "
                        "(refuse_outside_range) or retrain with them",
                        "errors": [
                            f"{feature}: a category the model was not trained on" for feature in unseen
                        ],
                        "error_count": len(unseen),
                    },
                ) from None
            self._count(endpoint, version, 500, environment)
            raise _Answer(500, {"detail": "the model failed on this input"}) from None

        latency_ms = (time.perf_counter() - started) * 1000.0
        logged = _log_rows(
            route, environment, arm, request_id, records, predictions, probabilities, latency_ms, rows
        )
        try:
            self.log(logged)
        except Exception:
            log.exception("could not log request %s; refusing its answer", request_id)
            self.metrics.errors.labels(endpoint, "log").inc()
            self._count(endpoint, version, 503, environment)
            raise _Answer(503, {"detail": "prediction log unavailable"}) from None
        return predictions, probabilities

    def _reject(
        self, route: Route, environment: str, arm: Arm, request_id: str, rows: int, errors, error_count: int
    ) -> None:
        """A data-quality event: counted per field and problem, and logged without the values. The
        errors are the first ones listed; the log row's last line says how many more there were.
        ``rows``: the records refused (all of the request's, but in partial scoring)."""
        listed = errors
        if error_count > len(errors):
            listed = [
                *errors,
                f"… and {error_count - len(errors)} more errors not listed ({error_count} in all)",
            ]
        for error in errors:
            field, problem = field_problem(error)
            self.metrics.rejected_fields.labels(route.endpoint, field, problem).inc()
        event = {
            "kind": "rejected",
            "request_id": request_id,
            "endpoint": route.endpoint,
            "environment": environment,
            "deployment_id": arm.deployment_id,
            "version_id": arm.version_id,
            "role": arm.role,
            "rows": rows,
            "errors": listed,
            "error_count": error_count,
            "ts": _now(),
            "batch": False,
        }
        try:
            self.log([event])
        except Exception:
            # The client's answer (422) does not depend on this record; the counter still has it.
            log.exception("could not log the rejection of request %s", request_id)
            self.metrics.errors.labels(route.endpoint, "log").inc()

    # --- shadows ---------------------------------------------------------------------------------

    def _start_shadows(
        self, route: Route, environment: str, request_id: str, records: list[dict], rows=None
    ) -> None:
        for arm in route.shadows:
            # A copy, so that nothing a shadow does can reach the answer or another shadow.
            job_records = copy.deepcopy(records)

            def job(arm=arm, job_records=job_records):
                self._score_shadow(route, environment, arm, request_id, job_records, rows)

            if not self.shadows.submit(job):
                self.metrics.errors.labels(route.endpoint, "shadow_dropped").inc()

    def _score_shadow(
        self, route: Route, environment: str, arm: Arm, request_id: str, records, rows=None
    ) -> None:
        started = time.perf_counter()
        endpoint = route.endpoint
        # A shadow may use fewer features than the primary; more it cannot get.
        if validate_records(records, arm.input_schema, allow_extra=True):
            self.metrics.errors.labels(endpoint, "shadow").inc()
            log.warning(
                "shadow %s v%s cannot score request %s: schema mismatch",
                arm.model_name,
                arm.version_number,
                request_id,
            )
            return
        try:
            model = self.cache.get(arm)
            predictions, probabilities = _run_model(model, records, arm.input_schema)
        except Exception as exc:
            self.metrics.errors.labels(endpoint, "shadow").inc()
            log.error(
                "shadow %s v%s failed on request %s: %s",
                arm.model_name,
                arm.version_number,
                request_id,
                type(exc).__name__,
            )
            return
        latency_ms = (time.perf_counter() - started) * 1000.0
        self.metrics.latency.labels(endpoint, str(arm.version_number), SHADOW).observe(latency_ms / 1000.0)
        try:
            self.log(
                _log_rows(
                    route, environment, arm, request_id, records, predictions, probabilities, latency_ms, rows
                )
            )
        except Exception:
            self.metrics.errors.labels(endpoint, "log").inc()
            log.exception("could not log shadow predictions of request %s", request_id)

    # --- bookkeeping -----------------------------------------------------------------------------

    def _routes_changed(self, routes: list[Route]) -> None:
        arms = [arm for route in routes for arm in route.arms]
        self.cache.retain(arm.cache_key for arm in arms)
        if self.warm_models:
            # In a thread of its own: a large model must neither hold up route refreshes nor keep a
            # booting gunicorn worker silent past its timeout. Requests meanwhile wait on the key lock.
            threading.Thread(target=self.cache.warm, args=(arms,), name="model-warmup", daemon=True).start()

    def _count(self, endpoint: str, version: str, status: int, environment: str | None = None) -> None:
        self.metrics.requests.labels(endpoint, version, str(status)).inc()
        if self.sla is not None:
            self.sla.count(endpoint, environment, version, status)

    def _observe(self, endpoint: str, arm: Arm, started: float, environment: str | None = None) -> None:
        seconds = time.perf_counter() - started
        self.metrics.latency.labels(endpoint, str(arm.version_number), arm.role).observe(seconds)
        if self.sla is not None and environment is not None:
            self.sla.observe(endpoint, environment, arm.version_number, seconds)


def _run_model(model, records: list[dict], schema: dict) -> tuple[list, list | None]:
    """Predictions and probabilities (None without predict_proba) as JSON-ready lists. The frame is
    built once, its columns in the schema's order, because pipelines select columns by position too.

    Models that take a plain matrix exactly as they take that frame (Predictor.matrix_features, the
    same names in the same order) get one when every value is a plain number: a request then
    skips pandas and scikit-learn's DataFrame checks, most of a small model's time."""
    names = feature_names(schema)
    matrix = None
    if names and getattr(model, "matrix_features", None) == names:
        matrix = plain_matrix(records, names)
    if matrix is not None:
        predictions, probabilities = model.predict_both_matrix(matrix)
    else:
        if names:
            frame = pd.DataFrame({name: [record.get(name) for record in records] for name in names})
        else:
            frame = pd.DataFrame.from_records(records)
        predictions = np.asarray(model.predict(frame))
        probabilities = model.predict_proba(frame)
    if len(predictions) != len(records):
        raise ValueError("the model returned a different number of predictions than records")
    return predictions.tolist(), None if probabilities is None else np.asarray(probabilities).tolist()


_NAMES_CACHE: dict[int, tuple[dict, tuple[str, ...]]] = {}
_EXACT_INT = 2**53  # integers up to this are exact in float64, as pandas would convert them too


def feature_names(schema: dict) -> tuple[str, ...]:
    """The schema's feature names in order, worked out once per schema object (routes hand the same
    dict to every request until they change). The entry keeps its schema alive, so an id is never
    reused while cached."""
    cached = _NAMES_CACHE.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    names = tuple(
        str(f["name"]) for f in (schema or {}).get("features", []) if isinstance(f, dict) and "name" in f
    )
    if len(_NAMES_CACHE) > 256:  # refreshed routes bring new dicts; old ones need not stay
        _NAMES_CACHE.clear()
    _NAMES_CACHE[id(schema)] = (schema, names)
    return names


def plain_matrix(records: list[dict], names: tuple[str, ...]) -> np.ndarray | None:
    """The records as a matrix (columns ``names``), or None unless every value is a float or an
    int (not a bool) within ±2**53: then NumPy's int64 or float64 matrix holds what the DataFrame
    path would hand the model (int64 columns where all are ints; float64 for all when any is a
    float, as pandas converts a mixed frame)."""
    rows = []
    for record in records:
        row = [record.get(name) for name in names]
        for value in row:
            kind = type(value)
            if kind is not float and not (kind is int and -_EXACT_INT <= value <= _EXACT_INT):
                return None
        rows.append(row)
    # Column-major, as pandas hands a frame's values over: BLAS then sums in the same order.
    return np.array(rows, order="F")


def _without_sticky_key(records: list[dict], route: Route, arm: Arm) -> list[dict]:
    """The records as the schema check sees them: a sticky key that is no feature of the model is
    there for routing, so it is not an unexpected field (the log keeps it with the inputs)."""
    key = route.sticky_key
    if (
        not key
        or route.allow_extra
        or any(f.get("name") == key for f in arm.input_schema.get("features", []))
    ):
        return records
    return [{k: v for k, v in record.items() if k != key} for record in records]


def _log_rows(
    route, environment, arm, request_id, records, predictions, probabilities, latency_ms, rows=None
) -> list[dict]:
    """One log row per scored record, numbered by its index in the request (``rows``, when only
    some records of it were scored), so outcomes sent for (request id, row) find it."""
    ts = _now()
    return [
        {
            "request_id": request_id,
            "row": i if rows is None else rows[i],
            "endpoint": route.endpoint,
            "environment": environment,
            "deployment_id": arm.deployment_id,
            "version_id": arm.version_id,
            "role": arm.role,
            "inputs": record,
            "prediction": predictions[i],
            "probabilities": None if probabilities is None else probabilities[i],
            "latency_ms": latency_ms,
            "ts": ts,
            "batch": False,
            "kind": "prediction",
        }
        for i, record in enumerate(records)
    ]


def _partial(environ) -> bool:
    """Whether ``?partial=true`` asks for the records that fit to be scored without the others."""
    values = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).get("partial", [])
    value = values[-1].strip().lower() if values else ""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequest(400, "the query parameter partial must be true or false")


def _at_indices(values: list, indices: list[int], size: int) -> list:
    """``values`` placed at ``indices`` of a list of ``size``, None elsewhere."""
    placed = [None] * size
    for index, value in zip(indices, values, strict=True):
        placed[index] = value
    return placed


def _request_id(environ) -> tuple[str, bool]:
    """(the request id, whether the client chose it). An unsafe X-Request-ID is replaced."""
    given = environ.get("HTTP_X_REQUEST_ID", "")
    if _SAFE_REQUEST_ID.fullmatch(given):
        return given, True
    return GENERATED_PREFIX + uuid.uuid4().hex, False


def _clip(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def _respond(start_response, status: int, body, headers, *, content_type="application/json"):
    data = body if isinstance(body, bytes) else to_json(body)
    phrase = HTTPStatus(status).phrase
    start_response(
        f"{status} {phrase}",
        [("Content-Type", content_type), ("Content-Length", str(len(data))), *headers],
    )
    return [data]
