"""Text checks on hand-made profiles and on real reviews: rates that can be counted by hand, no
alarm between two halves of the same data, an alarm when the text changes."""

import pandas as pd
import pytest

from apps.monitoring.stats import profiles
from apps.monitoring.stats.text import (
    FLOORS,
    empty_rate,
    expected_oov_rate,
    oov_rate,
    text_findings,
    top_token_shift,
)

SPEC = [{"name": "review", "type": "text", "nullable": True}]


def profiled(reference_texts, current_texts):
    reference = profiles.build_reference_profile(pd.DataFrame({"review": reference_texts}), SPEC)
    window = profiles.profile_window(pd.DataFrame({"review": current_texts}), reference)
    return reference["features"]["review"], window["features"]["review"]


def test_empty_and_oov_rates_on_a_hand_made_example():
    reference = ["the cat sat", "the dog ran", "a cat ran", "", "the end"] * 40  # 1 in 5 empty
    current = ["the cat sat", "", "", "zebra quagga", "the cat ate"] * 40  # 2 in 5 empty
    ref, cur = profiled(reference, current)
    empty = empty_rate(ref, cur)
    assert empty.details["reference_rate"] == pytest.approx(0.2)
    assert empty.details["current_rate"] == pytest.approx(0.4)
    assert empty.effect_size == pytest.approx(0.2) and empty.p_value < 1e-4
    assert empty.details["check"] == "empty_rate" and empty.details["floor"] == FLOORS["empty_rate"]

    oov = oov_rate(ref, cur)
    # Current tokens: the cat sat | zebra quagga | the cat ate -> 3 of 8 are unknown.
    assert oov.details["current_rate"] == pytest.approx(3 / 8)
    # Every reference word is in its vocabulary, each seen at least 40 times: nothing expected.
    assert oov.details["reference_rate"] == 0.0 and oov.test == "binomial_vs_baseline"
    assert oov.n_current == 120  # documents, not tokens, are the unit
    assert oov.p_value < 1e-6


def test_expected_oov_rate_corrects_the_in_sample_bias():
    ref, _ = profiled(["alpha beta", "alpha gamma", "alpha delta"], ["alpha"])
    # Vocabulary not cut: 3 of 6 tokens are words seen once, Good–Turing's estimate of unseen mass.
    assert expected_oov_rate(ref) == pytest.approx(3 / 6)


def test_no_alarm_between_halves_of_the_same_reviews_and_an_alarm_when_text_changes(reviews_path):
    reviews = pd.read_csv(reviews_path)["review"]
    ref, same = profiled(reviews[:2000], reviews[2000:])
    results = {r.details["check"]: r for r in text_findings(ref, same)}
    assert set(results) == {"text_length", "oov_rate", "top_tokens"}  # no empty review on either side
    for check, result in results.items():
        assert result.effect_size < FLOORS[check], check
    assert results["top_tokens"].p_value is None

    changed = reviews[2000:].str.slice(0, 60) + " blockchain crypto"
    _, cur = profiled(reviews[:2000], changed)
    results = {r.details["check"]: r for r in text_findings(ref, cur)}
    for check in ("text_length", "oov_rate", "top_tokens"):
        assert results[check].effect_size >= FLOORS[check], check
    assert results["text_length"].p_value < 1e-10 and results["oov_rate"].p_value < 1e-10
    moved = [row["token"] for row in results["top_tokens"].details["moved"]]
    assert "crypto" in moved and "blockchain" in moved


def test_small_windows_get_no_token_distance_and_bad_input_is_named():
    ref, cur = profiled(["some words here"] * 300, ["other words"] * 10)
    assert top_token_shift(ref, cur) is None
    assert {r.details["check"] for r in text_findings(ref, cur)} == {"text_length", "oov_rate"}
    with pytest.raises(ValueError, match="text profile feature"):
        text_findings(ref, {"kind": "numeric"})


def test_a_check_run_names_each_text_check_and_uses_its_own_floor():
    """An empty-text rate rising by 6 points is below the distribution floor (0.1) but above the
    empty-rate floor (0.02): the run flags it under its own name."""
    from apps.monitoring.stats.checks import run_checks

    words = ["credit", "loan", "rate", "late", "paid", "home", "car", "card", "fee", "bank"]
    texts = [" ".join(words[(i + j) % 10] for j in range(3 + i % 5)) for i in range(3000)]
    current_texts = [("" if i % 16 == 0 else t) for i, t in enumerate(texts)]  # 0% → 6.25% empty
    reference = profiles.build_reference_profile(pd.DataFrame({"review": texts}), SPEC)
    window = profiles.profile_window(pd.DataFrame({"review": current_texts}), reference, features=SPEC)
    result = run_checks(reference, window, SPEC)
    by_check = {f.check: f for f in result.findings if f.feature == "review"}
    assert by_check["empty_rate"].floor == FLOORS["empty_rate"]
    assert by_check["empty_rate"].flagged
    assert "text_length" in by_check and by_check["text_length"].floor == FLOORS["text_length"]
