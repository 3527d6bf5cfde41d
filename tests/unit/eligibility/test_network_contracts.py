"""Network contract changes as events: what is appended, and when nothing is."""

from datetime import UTC, datetime

from services.eligibility.domain.network import apply_contract, contract_change

NOW = datetime(2026, 5, 14, 9, 30, tzinfo=UTC)


def test_a_first_contract_is_stated_sorted_and_distinct():
    [event] = contract_change(None, "org-1", ["silver-hmo-2026", "gold-hmo-2026", "silver-hmo-2026"], NOW)
    assert event.model_dump(mode="json") == {
        "organization_id": "org-1", "plan_ids": ["gold-hmo-2026", "silver-hmo-2026"],
        "updated_at": "2026-05-14T09:30:00Z",
    }
    contract = apply_contract(event, 1)
    assert (contract.plan_ids, contract.version) == (("gold-hmo-2026", "silver-hmo-2026"), 1)


def test_the_same_contract_again_appends_nothing_in_any_order():
    current = apply_contract(contract_change(None, "org-1", ["a-plan", "b-plan"], NOW)[0], 1)
    assert contract_change(current, "org-1", ["b-plan", "a-plan", "a-plan"], NOW) == []


def test_a_changed_contract_carries_the_whole_new_contract():
    current = apply_contract(contract_change(None, "org-1", ["a-plan", "b-plan"], NOW)[0], 1)
    [event] = contract_change(current, "org-1", ["b-plan"], NOW)
    assert event.plan_ids == ["b-plan"]
    [emptied] = contract_change(apply_contract(event, 2), "org-1", [], NOW)
    assert emptied.plan_ids == []


def test_an_empty_first_contract_is_stated_once():
    [event] = contract_change(None, "org-1", [], NOW)
    assert event.plan_ids == []
    assert contract_change(apply_contract(event, 1), "org-1", [], NOW) == []
