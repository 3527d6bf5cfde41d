import uuid

import pytest

from infra.http.problems import Problem
from infra.idempotency import IdempotentRequest, derive_id, fingerprint, stored_fingerprint

NS = uuid.UUID("0b5a7a39-5d8f-4c55-9d1e-6c2f7f0e4a11")


def test_the_same_caller_and_key_derive_the_same_id_and_others_do_not():
    assert derive_id(NS, "org-1", "k") == derive_id(NS, "org-1", "k") == str(uuid.uuid5(NS, "org-1:k"))
    assert derive_id(NS, "org-2", "k") != derive_id(NS, "org-1", "k")
    assert derive_id(NS, "org-1", "k", scope="client") == str(uuid.uuid5(NS, "client:org-1:k"))
    assert derive_id(NS, "org-1", None) != derive_id(NS, "org-1", None)  # no key: a new resource each time


def test_the_fingerprint_ignores_key_order():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_a_replay_with_another_body_is_a_409():
    first = IdempotentRequest.of(NS, "org-1", "k", {"a": 1})
    stored = stored_fingerprint(first.meta)
    IdempotentRequest.of(NS, "org-1", "k", {"a": 1}).check(stored)
    with pytest.raises(Problem) as conflict:
        IdempotentRequest.of(NS, "org-1", "k", {"a": 2}).check(stored)
    assert (conflict.value.status, conflict.value.code) == (409, "idempotency_conflict")
