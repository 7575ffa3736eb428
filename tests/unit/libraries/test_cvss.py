import pytest

from apps.libraries.cvss import rate, worst


@pytest.mark.parametrize(
    ("vector", "score", "severity"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, "high"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "medium"),
        ("CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:C/C:L/I:N/A:N", 3.4, "low"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "unknown"),
    ],
)
def test_base_scores_per_the_specification(vector, score, severity):
    rating = rate(vector)
    assert (rating.score, rating.severity) == (score, severity)


def test_bad_vectors_are_named_and_the_worst_good_one_wins():
    with pytest.raises(ValueError, match="AV:Q"):
        rate("CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    best, errors = worst(
        [
            "nonsense",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        ]
    )
    assert best.score == 7.5 and len(errors) == 1 and "nonsense" in errors[0]


def test_a_severity_stated_without_a_vector_is_read_from_its_fields():
    from apps.libraries import cvss, osv

    document = {
        "id": "GHSA-g3rq-g295-4j3m",
        "modified": "2024-09-25T19:40:39Z",
        "affected": [
            {"package": {"ecosystem": "PyPI", "name": "jinja2"}, "ecosystem_specific": {"severity": "LOW"}}
        ],
        "database_specific": {"severity": "MODERATE"},
    }
    advisory, problems = osv.parse(document)
    assert problems == [] and advisory.vectors == []
    assert advisory.stated == [
        ("database_specific.severity", "MODERATE"),
        ("affected[0].ecosystem_specific.severity", "LOW"),
    ]
    assert cvss.stated(advisory.stated) == ("medium", "database_specific.severity")
    assert cvss.stated([("severity[0] (Ubuntu)", "negligible")]) == ("low", "severity[0] (Ubuntu)")
    assert cvss.stated([("database_specific.severity", "IMPORTANT")])[0] == "high"
    assert cvss.stated([("database_specific.severity", "none")]) is None
