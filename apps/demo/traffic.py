"""Demo traffic: real credit applications sent to the credit-risk endpoint, so the SLA page has
something to show within a minute of ``make demo`` starting.

    python -m apps.demo.traffic --url http://127.0.0.1:8100 --rate 5

Waits until the inference service answers, then sends rows of ../shared/data/credit/credit_data.csv
to production (about 70 %) and staging: mostly one row, some several, and a few deliberately bad
payloads (a wrong type, a missing field, broken JSON) so the error charts are not flat, and a few
loans larger than any in the reference, which are scored and counted as out of range. Each
environment's request carries that endpoint's consumer key, read from MODELYARD_DEMO_TRAFFIC_KEYS
(JSON: environment → key; the demo creates them). Plain Python and requests, no Django; runs until
interrupted (the demo starts it as a child process).
"""

import argparse
import contextlib
import csv
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import requests

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "credit" / "credit_data.csv"
KEYS_VARIABLE = "MODELYARD_DEMO_TRAFFIC_KEYS"
OUTSIDE_AMOUNT = 5_000  # added to an Amount: above the data's largest (5,000)
NUMERIC = ("Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price")


def load_rows(path: Path = DATA) -> list[dict]:
    """Rows as the model takes them (numbers as numbers, blanks as nulls, the target left out).
    Incomplete applications are kept: the reference has them too, and leaving them out would make
    the live hours look like drift (a falling null rate) to monitoring."""
    rows = []
    with open(path, newline="") as handle:
        for raw in csv.DictReader(handle):
            raw.pop("Status", None)
            rows.append(
                {k: None if v in ("", None) else _number(v) if k in NUMERIC else v for k, v in raw.items()}
            )
    return rows


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def payload(rows: list[dict], rng: random.Random) -> bytes:
    """One request body: usually 1 row, sometimes 2–5; about 4 % are deliberately bad and about
    2 % carry an Amount outside the reference's range."""
    roll = rng.random()
    if roll < 0.015:
        return b'{"records": [{"Age": 30,'  # broken JSON: 400
    records = [dict(rng.choice(rows)) for _ in range(1 if rng.random() < 0.85 else rng.randint(2, 5))]
    if roll < 0.03:
        records[0]["Income"] = "lots"  # wrong type: 422
    elif roll < 0.04:
        records[0].pop("Age")  # missing field: 422
    elif roll < 0.06 and records[0].get("Amount") is not None:
        # A loan larger than any in the reference (at most 5,000): scored, and counted as out of
        # range, so the data-quality panel has an out-of-range rate to show.
        records[0]["Amount"] += OUTSIDE_AMOUNT
    return json.dumps({"records": records}).encode()


def wait_until_up(session: requests.Session, url: str) -> None:
    """Until /health answers 200: the service loads its routes and models after the demo starts."""
    while True:
        try:
            if session.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)


def headers_for(keys: dict[str, str], environment: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if keys.get(environment):
        headers["Authorization"] = f"Bearer {keys[environment]}"
    return headers


def run(
    url: str, rate: float, endpoint: str, seed: int | None = None, keys: dict[str, str] | None = None
) -> None:
    rng = random.Random(seed)
    rows = load_rows()
    keys = keys or {}
    session = requests.Session()
    wait_until_up(session, url)
    print(f"traffic: sending about {rate:g} requests/s to {endpoint} (production and staging)", flush=True)
    while True:
        environment = "production" if rng.random() < 0.7 else "staging"
        try:
            session.post(
                f"{url}/v1/endpoints/{endpoint}/predict?environment={environment}",
                data=payload(rows, rng),
                headers=headers_for(keys, environment),
                timeout=10,
            )
        except requests.RequestException:
            time.sleep(1)  # the service restarts or is not deployed yet; try again shortly
        time.sleep(rng.expovariate(rate))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8100", help="the inference service")
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second, on average")
    parser.add_argument("--endpoint", default="credit-risk")
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error("--rate must be above 0")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches the whole demo, this child too
        run(args.url, args.rate, args.endpoint, keys=json.loads(os.environ.get(KEYS_VARIABLE) or "{}"))


if __name__ == "__main__":
    main()
