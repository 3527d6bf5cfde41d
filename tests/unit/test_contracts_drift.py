"""The checked-in JSON Schemas and AsyncAPI document match the pydantic contracts."""

from contracts.generate import render


def test_checked_in_schemas_match_the_models():
    drifted = [str(path) for path, text in render().items() if not path.exists() or path.read_text() != text]
    assert drifted == [], "run `python -m contracts.generate` and commit the result"


def test_every_published_event_type_has_a_schema():
    from contracts.registry import CONTRACTS

    types = {c.type for c in CONTRACTS}
    assert {"claim.received", "claim.processed", "claim.adjudicated", "member.enrolled",
            "accumulators.applied", "organization.registered"} <= types
