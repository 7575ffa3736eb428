"""The inference app called directly as WSGI, with real scikit-learn models dumped with joblib."""

import io
import json
import random
from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd
import pytest

from apps.serving.inference.app import make_app
from apps.serving.inference.keys import hash_key
from apps.serving.inference.routes import Arm, Route, RouteTable
from apps.serving.inference.shadows import ShadowRunner

FEATURES = ["income", "age", "tenure"]
METRICS_TOKEN = "unit-tests-metrics-token"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}
SCHEMA = {
    "features": [
        {"name": "income", "type": "number", "nullable": False, "min": 0},
        {"name": "age", "type": "integer", "nullable": False, "min": 18, "max": 120},
        {"name": "tenure", "type": "number", "nullable": True},
    ]
}


def training_frame(seed: int = 0, rows: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.uniform(1_000, 9_000, rows),
            "age": rng.integers(18, 80, rows),
            "tenure": rng.uniform(0, 20, rows),
        }
    )
    labels = np.where(frame["income"] / 1000 + frame["tenure"] / 4 > 7, "good", "bad")
    return frame, labels


def sample_records(count: int, seed: int = 1) -> list[dict]:
    frame, _ = training_frame(seed, count)
    return [
        {"income": float(r.income), "age": int(r.age), "tenure": float(r.tenure)} for r in frame.itertuples()
    ]


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """Two real classifiers saved as joblib files: {"logreg": (model, path), "tree": (model, path)}."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    folder = tmp_path_factory.mktemp("models")
    frame, labels = training_frame()
    trained = {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, labels),
        "tree": DecisionTreeClassifier(max_depth=2, random_state=0).fit(frame, labels),
    }
    saved = {}
    for name, model in trained.items():
        path = folder / f"{name}.joblib"
        joblib.dump(model, path)
        saved[name] = (model, str(path))
    return saved


def arm(path: str, *, deployment_id=1, version_id=11, number=1, role="primary", percent=0.0, schema=None):
    return Arm(
        deployment_id=deployment_id,
        version_id=version_id,
        model_name="credit",
        version_number=number,
        role=role,
        percent=percent,
        artifact_path=path,
        format="joblib",
        mlflow_root="",
        trusted_types=(),
        input_schema=SCHEMA if schema is None else schema,
        output_schema={},
    )


def route(
    *arms,
    endpoint="credit",
    environment="production",
    allow_extra=False,
    sticky_key=None,
    keys=(),
    refuse_outside=(),
) -> Route:
    """A route; ``keys`` are the consumer keys it accepts (their hashes go in the route)."""
    return Route(
        environment=environment,
        endpoint=endpoint,
        allow_extra=allow_extra,
        sticky_key=sticky_key,
        arms=arms,
        key_hashes=frozenset(hash_key(key) for key in keys),
        refuse_outside=frozenset(refuse_outside),
    )


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


class NoReading(io.BytesIO):
    """A request body that fails the test if the app reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")


def call(
    app,
    path="/v1/endpoints/credit/predict",
    payload=None,
    *,
    method="POST",
    body=None,
    headers=None,
    query="",
    length="auto",
    stream=None,
):
    """Call the WSGI app the way gunicorn does and collect its answer. ``length`` is the
    Content-Length sent ("auto": the body's; None: none); ``stream`` replaces the body stream."""
    if body is None and payload is not None:
        body = json.dumps(payload).encode()
    body = body or b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.input": stream if stream is not None else io.BytesIO(body),
    }
    if length == "auto":
        length = str(len(body)) if method == "POST" else None
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen = {}

    def start_response(status, response_headers):
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(response_headers)

    data = b"".join(app(environ, start_response))
    return Answer(seen["status"], seen["headers"], data)


class ListLog:
    """The prediction log as a list; ``fail`` makes it raise like an unavailable store."""

    def __init__(self):
        self.rows: list[dict] = []
        self.fail = False

    def __call__(self, rows: list[dict]) -> None:
        if self.fail:
            raise OSError("the log store is down")
        self.rows.extend(rows)

    def of_kind(self, kind: str) -> list[dict]:
        return [row for row in self.rows if row["kind"] == kind]


@pytest.fixture
def serve():
    """serve(*routes, **make_app options) → (app, log): an app over a loaded table; shadows inline."""

    def build(*routes, **options):
        table = RouteTable(lambda: list(routes))
        table.refresh()
        log = ListLog()
        options.setdefault("shadows", ShadowRunner(workers=0))
        options.setdefault("rng", random.Random(1234))
        options.setdefault("metrics_token", METRICS_TOKEN)
        return make_app(table, log, **options), log

    return build


def metric(text: str, name: str, **labels) -> float | None:
    """The value of one sample of a Prometheus exposition, or None when it is absent."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None
