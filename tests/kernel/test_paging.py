"""The stop rules and the loop guard, judged page by page without a server."""

import pytest

from tallyfy_source.api.paging import is_last_page, page_fingerprint


def meta(current, total_pages, total, per_page=100, links=None):
    return {"current_page": current, "total_pages": total_pages, "total": total,
            "per_page": per_page, "count": 0, "links": links if links is not None else []}


ROWS = [{"id": i} for i in range(100)]


def test_stops_when_current_page_reaches_total_pages():
    assert is_last_page(3, ROWS, 100, meta(3, 3, 300), rows_read=300)


def test_goes_on_while_pages_remain_even_if_links_is_an_empty_list():
    assert not is_last_page(1, ROWS, 100, meta(1, 3, 300, links=[]), rows_read=100)


def test_stops_on_an_empty_page_whatever_meta_says():
    assert is_last_page(2, [], 100, meta(2, 9, 900), rows_read=100)


def test_stops_on_a_short_page_whatever_meta_says():
    assert is_last_page(2, ROWS[:40], 100, meta(2, 9, 900), rows_read=140)


def test_short_page_is_measured_against_the_servers_smaller_cap():
    # asked 100, server serves 50 a page: a page of 50 is full, not the last
    assert not is_last_page(1, ROWS[:50], 100, meta(1, 4, 200, per_page=50), rows_read=50)


def test_reads_on_when_total_pages_is_computed_from_a_bigger_default_page_size():
    # users' default page size is 9999: total_pages 1 although 250 rows exist
    assert not is_last_page(1, ROWS, 100, meta(1, 1, 250), rows_read=100)


def test_missing_meta_falls_back_to_short_and_empty_pages():
    assert not is_last_page(1, ROWS, 100, {}, rows_read=100)
    assert is_last_page(2, ROWS[:1], 100, {}, rows_read=101)


@pytest.mark.parametrize("rows_a,rows_b,same", [
    ([{"id": 1}, {"id": 2}], [{"id": 1}, {"id": 2}], True),
    ([{"id": 1}, {"id": 2}], [{"id": 2}, {"id": 1}], False),
    ([{"email": "a@x"}], [{"email": "b@x"}], False),
])
def test_page_fingerprint_identifies_repeated_content(rows_a, rows_b, same):
    assert (page_fingerprint(rows_a) == page_fingerprint(rows_b)) is same


def test_stops_at_total_when_total_pages_is_computed_from_a_smaller_default_page_size():
    # groups' default page size is 10: 100 rows claim 10 pages, but one page of 100 holds them all
    assert is_last_page(1, ROWS, 100, meta(1, 10, 100), rows_read=100)
    assert not is_last_page(1, ROWS, 100, meta(1, 20, 200), rows_read=100)
