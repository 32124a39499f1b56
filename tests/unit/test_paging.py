"""The one list behaviour of the API: sort, then cut a page."""

from __future__ import annotations

import pytest

from msinfuse.api.paging import ListParams, paginate
from msinfuse.errors import InvalidInput

ROWS = [
    {"name": "b", "due": "2026-12-01", "days": 3},
    {"name": "a", "due": None, "days": 10},
    {"name": "c", "due": "2026-11-20", "days": None},
]


def test_unsorted_rows_keep_the_services_order_and_report_the_total():
    page = paginate(ROWS, ListParams(limit=2, offset=1, sort=None))
    assert [r["name"] for r in page["items"]] == ["a", "c"]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)


@pytest.mark.parametrize(
    ("sort", "names"),
    [
        ("due", ["c", "b", "a"]),
        ("-due", ["b", "c", "a"]),
        ("days", ["b", "a", "c"]),
        ("-days", ["a", "b", "c"]),
    ],
)
def test_sorting_puts_missing_values_last_in_both_directions(sort, names):
    page = paginate(ROWS, ListParams(limit=10, offset=0, sort=sort))
    assert [r["name"] for r in page["items"]] == names


def test_an_unknown_sort_field_names_the_sortable_ones():
    with pytest.raises(InvalidInput, match="sortable fields: days, due, name"):
        paginate(ROWS, ListParams(limit=10, offset=0, sort="secret"))


def test_an_offset_past_the_end_is_an_empty_page_not_an_error():
    page = paginate(ROWS, ListParams(limit=10, offset=50, sort="name"))
    assert page["items"] == []
    assert page["total"] == 3
