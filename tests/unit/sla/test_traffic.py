"""The demo's traffic: real credit rows as the model takes them, a small share of bad payloads and
of loans outside the reference's range."""

import json
import random
from collections import Counter

from apps.demo.traffic import load_rows, payload


def test_rows_are_every_application_without_the_target_blanks_as_nulls(credit_path):
    rows = load_rows(credit_path)
    assert len(rows) == 4454
    assert all("Status" not in row and len(row) == 13 for row in rows)
    assert isinstance(rows[0]["Age"], int) and rows[0]["Home"] == "rent"
    assert any(row["Income"] is None for row in rows)


def test_most_payloads_are_good_some_have_several_rows_and_a_few_are_bad(credit_path):
    rows, rng, kinds = load_rows(credit_path), random.Random(3), Counter()
    for _ in range(5000):
        body = payload(rows, rng)
        try:
            records = json.loads(body)["records"]
        except ValueError:
            kinds["broken"] += 1
            continue
        if any(isinstance(r.get("Income"), str) or "Age" not in r for r in records):
            kinds["bad"] += 1
            continue
        if any((r.get("Amount") or 0) > 5000 for r in records):
            kinds["outside"] += 1
        else:
            kinds["multi" if len(records) > 1 else "single"] += 1
    assert 0.02 < (kinds["broken"] + kinds["bad"]) / 5000 < 0.06
    assert kinds["multi"] > 400 and kinds["single"] > 3400
    assert 0.01 < kinds["outside"] / 5000 < 0.03  # above the largest Amount: scored, counted out of range
