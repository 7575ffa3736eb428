"""Checks for a text feature: length distribution, empty rate, out-of-vocabulary rate, top tokens.

Inputs are profile features of kind "text" (profiles.py): document count, empty documents, a
length histogram on the reference's length edges, the top tokens (lower-cased ``\\w+`` words) with
counts, the total token count and, in a window, ``oov`` (tokens not in the reference vocabulary).
Null rates are quality.py's business, as for every other kind.

Each check returns a ``drift.TestResult`` whose ``details`` name the ``check`` and a suggested
``floor`` for its effect size:

- ``text_length``: two-sample chi-squared on the length histograms (drift.chi_squared, rare bins
  pooled); effect the Jensen–Shannon distance on the reference-decile groups, floor 0.1.
- ``empty_rate``: share of non-null documents that are empty, tested as quality.py tests rates
  (two-proportion z, exact against a small baseline when the reference has none); floor 0.02.
- ``oov_rate``: share of tokens outside the reference vocabulary, against the rate expected of new
  text from the reference's own distribution (below). Floor 0.02.
- ``top_tokens``: shares of the top ``TOP_TOKENS`` tokens of either side (the rest pooled);
  effect the Jensen–Shannon distance (base 2), floor 0.1, no p-value (below).

The reference's own OOV rate (its tokens beyond its top 5,000) is biased low: the vocabulary was
chosen from those very tokens, so rare words that happened to make the cut look in-vocabulary. On
the review data, a vocabulary from 2,000 reviews leaves 2.9 % of their tokens out but 5.2 % of the
next 2,000 reviews'. The baseline is therefore a Good–Turing estimate of the new-text rate. When
the vocabulary holds every reference word, it is the share of tokens that are words seen once
(N_1/N). When it was cut at 5,000 words, with c the smallest count kept, M_c the kept words seen c
times and N_(c+1) those seen c + 1 times: ``in-sample rate + c·M_c/N + (c+1)·N_(c+1)/N`` — words
at the cut stand for as many that missed it (Good–Turing's shift by one), and the second term is
an upper bound for the cut words' own share; on the reviews it matched the next reviews' rate
within 0.01 for references of 1,000 to 4,000 reviews.

Tokens are not independent observations: the words of one document share its topic and author. A
test that counted each token as a trial would find significance in trivia, so the OOV rate is
tested with the document as the unit (each document one observation of its OOV share — conservative,
since a share in [0, 1] with mean p varies at most p(1 − p)). For the top tokens no honest p-value
can be had from a profile (the design effect needs per-document counts: bounding it by tokens per
document leaves no power, ignoring it flags noise), so the distance alone decides, and only with at
least ``MIN_DOCUMENTS`` documents and ``MIN_TOKENS`` tokens on each side, where its sampling noise
(about 0.03–0.05 on the review data) sits well below the floor; smaller windows get no token check.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.spatial.distance import jensenshannon

from apps.monitoring.stats import drift, quality
from apps.monitoring.stats.drift import TestResult
from apps.monitoring.stats.profiles import VOCABULARY

TOP_TOKENS = 50
MIN_DOCUMENTS = 200
MIN_TOKENS = 10_000
OTHER_TOKENS = "__other__"
FLOORS = {"text_length": 0.1, "empty_rate": 0.02, "oov_rate": 0.02, "top_tokens": 0.1}
# Tokens whose share moved most, kept as evidence for a person reading the finding.
MOVED_SHOWN = 5


def _require_text(feature, side: str) -> dict:
    if not isinstance(feature, dict) or feature.get("kind") != "text":
        kind = feature.get("kind") if isinstance(feature, dict) else type(feature).__name__
        raise ValueError(f"the {side} must be a text profile feature, not {kind!r}")
    return feature


def _lengths_as_numeric(feature: dict) -> dict:
    """A text feature's length histogram in the shape drift.py reads numeric features in."""
    return {
        "kind": "numeric",
        "count": int(feature["count"]),
        "edges": feature["length_edges"],
        "counts": feature["length_counts"],
    }


def length_drift(reference_feature: dict, current_feature: dict) -> TestResult:
    ref, cur = _lengths_as_numeric(reference_feature), _lengths_as_numeric(current_feature)
    result = drift.chi_squared(ref, cur)
    distance = drift.jensen_shannon(ref, cur).effect_size if ref["count"] and cur["count"] else 0.0
    details = {**result.details, "check": "text_length", "floor": FLOORS["text_length"]}
    return replace(result, effect_size=distance, effect_name="jensen_shannon", details=details)


def _as_check(result: TestResult | None, check: str, **extra) -> TestResult | None:
    if result is None:
        return None
    return replace(result, details={**result.details, "check": check, "floor": FLOORS[check], **extra})


def empty_rate(reference_feature: dict, current_feature: dict) -> TestResult | None:
    """None when neither side has an empty document (nothing to test)."""
    result = quality.rate_test(
        "null_rate",  # the same two-proportion machinery; relabelled below
        int(reference_feature["empty"]),
        int(reference_feature["count"]),
        int(current_feature["empty"]),
        int(current_feature["count"]),
    )
    return _as_check(result, "empty_rate")


def _documents(feature: dict) -> int:
    return int(feature["count"]) - int(feature["empty"])


def _reference_oov(feature: dict) -> int:
    return int(feature["tokens"]) - int(sum(feature["vocabulary"].values()))


def expected_oov_rate(reference_feature: dict) -> float:
    """Good–Turing estimate of the share of new same-distribution tokens outside the reference
    vocabulary (module docstring); the reference's in-sample rate plus the cut's correction."""
    tokens = int(reference_feature["tokens"])
    counts = np.fromiter(reference_feature["vocabulary"].values(), dtype=np.int64)
    if tokens == 0 or len(counts) == 0:
        return 0.0
    rate = (tokens - counts.sum()) / tokens
    if len(counts) < VOCABULARY:  # every reference word kept: the unseen mass is the words seen once
        return float(min(rate + int((counts == 1).sum()) / tokens, 1.0))
    cut = int(counts.min())  # cut short at `cut`: its words stand for as many left out
    rate += cut * int((counts == cut).sum()) / tokens + (cut + 1) * int((counts == cut + 1).sum()) / tokens
    return float(min(rate, 1.0))


def oov_rate(reference_feature: dict, current_feature: dict) -> TestResult | None:
    """None without tokens on a side or without any out-of-vocabulary token on either."""
    ref_tokens, cur_tokens = int(reference_feature["tokens"]), int(current_feature["tokens"])
    ref_docs, cur_docs = _documents(reference_feature), _documents(current_feature)
    if not (ref_tokens and cur_tokens and ref_docs and cur_docs):
        return None
    ref_rate = expected_oov_rate(reference_feature)
    cur_rate = int(current_feature.get("oov", 0)) / cur_tokens
    # Documents as the unit (module docstring): k = rate × documents, rounded to whole documents.
    result = quality.rate_test(
        "null_rate",
        round(ref_rate * ref_docs),
        ref_docs,
        round(cur_rate * cur_docs),
        cur_docs,
    )
    if result is None:
        return None
    details = {
        "reference_rate": ref_rate,
        "reference_in_sample_rate": _reference_oov(reference_feature) / ref_tokens,
        "current_rate": cur_rate,
        "reference_tokens": ref_tokens,
        "current_tokens": cur_tokens,
        "unit": "document",
    }
    return _as_check(replace(result, effect_size=abs(cur_rate - ref_rate)), "oov_rate", **details)


def _top_token_table(reference_feature: dict, current_feature: dict) -> tuple[list[str], np.ndarray]:
    ref_vocab, cur_vocab = reference_feature["vocabulary"], current_feature["vocabulary"]
    tokens = list(dict.fromkeys(_top(ref_vocab) + _top(cur_vocab)))
    ref = np.array([ref_vocab.get(t, 0) for t in tokens], dtype=float)
    cur = np.array([cur_vocab.get(t, 0) for t in tokens], dtype=float)
    ref_other = max(0.0, reference_feature["tokens"] - ref.sum())
    cur_other = max(0.0, current_feature["tokens"] - cur.sum())
    return tokens + [OTHER_TOKENS], np.vstack([np.append(ref, ref_other), np.append(cur, cur_other)])


def _top(vocabulary: dict) -> list[str]:
    return [t for t, _ in sorted(vocabulary.items(), key=lambda item: (-item[1], item[0]))[:TOP_TOKENS]]


def top_token_shift(reference_feature: dict, current_feature: dict) -> TestResult | None:
    """None with fewer than MIN_DOCUMENTS documents or MIN_TOKENS tokens on a side."""
    sizes = [(_documents(f), int(f["tokens"])) for f in (reference_feature, current_feature)]
    if any(docs < MIN_DOCUMENTS or tokens < MIN_TOKENS for docs, tokens in sizes):
        return None
    names, table = _top_token_table(reference_feature, current_feature)
    shares = table / table.sum(axis=1, keepdims=True)
    distance = float(jensenshannon(shares[0], shares[1], base=2))
    change = shares[1] - shares[0]
    moved = [
        {"token": names[i], "reference_share": float(shares[0, i]), "current_share": float(shares[1, i])}
        for i in np.argsort(-np.abs(change))[:MOVED_SHOWN]
        if change[i] != 0
    ]
    details = {
        "check": "top_tokens",
        "floor": FLOORS["top_tokens"],
        "tokens_compared": len(names) - 1,
        "reference_tokens": sizes[0][1],
        "current_tokens": sizes[1][1],
        "moved": moved,
        "note": "a distance without a p-value: tokens of one document are not independent",
    }
    return TestResult(
        "jensen_shannon", distance, None, distance, "jensen_shannon", sizes[0][0], sizes[1][0], details
    )


def text_findings(reference_feature: dict, current_feature: dict) -> list[TestResult]:
    """Every text check that has something to test, in a fixed order."""
    ref = _require_text(reference_feature, "reference")
    cur = _require_text(current_feature, "current side")
    results = [
        length_drift(ref, cur),
        empty_rate(ref, cur),
        oov_rate(ref, cur),
        top_token_shift(ref, cur),
    ]
    return [r for r in results if r is not None]
