import pytest

from infra.cursors import decode_position, encode_position, page_of
from infra.http.problems import Problem


def test_pages_walk_the_list_oldest_first_and_end_without_a_cursor():
    items = [f"m{i}" for i in range(7)]
    seen, cursor = [], None
    while True:
        page = page_of(items, cursor, 3)
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == items


def test_an_exact_last_page_has_no_next_cursor():
    assert page_of(["a", "b"], None, 2).next_cursor is None
    assert page_of([], None, 5).items == []


def test_a_cursor_round_trips_and_a_forged_one_is_a_422():
    assert decode_position(encode_position(42)) == 42
    for forged in ("nope", encode_position(1)[:-2] + "!!", "eyJ2IjoyLCJhZnRlciI6MX0", "eyJ2IjoxLCJhZnRlciI6LTF9"):
        with pytest.raises(Problem) as refused:
            decode_position(forged)
        assert refused.value.status == 422 and refused.value.errors[0]["code"] == "invalid_cursor"
