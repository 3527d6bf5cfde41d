"""EFT trace numbers: "1" + 9-digit payer id + 10-digit sequence; deterministic and one-to-one."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.adjudication.payments.domain import eft_trace_number, parse_eft_trace_number
from services.adjudication.payments.domain.trace import MAX_SEQUENCE


def test_the_trace_format():
    assert eft_trace_number("990000001", 42) == "1990000001" + "0000000042"
    assert eft_trace_number("990000001", 42) == eft_trace_number("990000001", 42)


@given(st.integers(1, MAX_SEQUENCE), st.integers(1, MAX_SEQUENCE))
def test_distinct_sequences_give_distinct_traces(a, b):
    assert (eft_trace_number("990000001", a) == eft_trace_number("990000001", b)) == (a == b)
    assert parse_eft_trace_number(eft_trace_number("990000001", a)) == ("990000001", a)


@pytest.mark.parametrize(("payer", "sequence"), [("99000001", 1), ("99000000X", 1), ("990000001", 0),
                                                 ("990000001", MAX_SEQUENCE + 1), ("990000001", True)])
def test_bad_inputs_are_refused(payer, sequence):
    with pytest.raises(ValueError):
        eft_trace_number(payer, sequence)
