"""Batch results assembled without I/O."""

import pytest

from services.claims.domain.batch import MAX_BATCH_CLAIMS, body_fingerprint, claim_key, received, rejected, summary


def test_the_summary_counts_and_orders_by_index():
    results = [rejected(2, [{"loc": "lines[0].units", "code": "greater_than", "message": "must be > 0", "x": 1}]),
               received(0, "C-0"), received(1, "C-1")]
    answer = summary("B-1", "2026-11-30T10:00:00Z", results)
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert [r["index"] for r in answer["results"]] == [0, 1, 2]
    assert answer["results"][2]["errors"] == [{"loc": "lines[0].units", "code": "greater_than",
                                                "message": "must be > 0"}]


def test_a_result_missing_or_twice_is_a_bug():
    with pytest.raises(ValueError):
        summary("B", "t", [received(0, "a"), received(2, "c")])
    with pytest.raises(ValueError):
        summary("B", "t", [received(0, "a"), received(0, "a")])


def test_each_claim_has_its_own_key_within_its_batch():
    keys = {claim_key("B-1", i) for i in range(MAX_BATCH_CLAIMS)}
    assert len(keys) == MAX_BATCH_CLAIMS and claim_key("B-1", 3) != claim_key("B-2", 3)


def test_a_body_with_lone_surrogates_has_a_fingerprint_and_storable_errors():
    raw = {"claims": [None, {"y\udb95\udcf7": None}]}
    assert body_fingerprint(raw) == body_fingerprint({"claims": [None, {"y\udb95\udcf7": None}]})
    assert body_fingerprint(raw) != body_fingerprint({"claims": [None]})
    (error,) = rejected(1, [{"loc": "y\udb95", "code": "extra_forbidden", "message": "x"}])["errors"]
    error["loc"].encode("utf-8")  # no surrogate left
