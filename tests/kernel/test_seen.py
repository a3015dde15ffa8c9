"""A walk's seen records (`read/seen.py`) give back exactly what was stored, packed in 16 bytes."""

from datetime import datetime, timedelta, timezone

import pytest

from tallyfy_source.read.endpoint_read import row_digest
from tallyfy_source.read.seen import SeenRecords

UTC = timezone.utc


@pytest.mark.parametrize("updated_at", [
    None,
    datetime(2026, 12, 6, 2, 53, 49, 123456, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before the epoch
    datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=2))),  # another offset: the same instant
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
])
def test_a_record_reads_back_its_digest_and_the_same_instant(updated_at):
    seen = SeenRecords()
    digest = row_digest({"id": "a1", "when": str(updated_at)})
    seen["a1"] = (digest, updated_at)
    back = seen["a1"]
    assert back == (digest, updated_at) and (back[1] is None or back[1].utcoffset() == timedelta(0))


def test_it_is_a_mapping_of_every_key_read_last_write_winning():
    seen = SeenRecords()
    seen["1"] = ("00000000000000ff", None)
    seen["2"] = ("0123456789abcdef", datetime(2026, 1, 1, tzinfo=UTC))
    seen["1"] = ("ffffffffffffffff", datetime(2026, 1, 2, tzinfo=UTC))
    assert len(seen) == 2 and "1" in seen and "3" not in seen and list(seen) == ["1", "2"]
    assert dict(seen.items()) == {"1": ("ffffffffffffffff", datetime(2026, 1, 2, tzinfo=UTC)),
                                  "2": ("0123456789abcdef", datetime(2026, 1, 1, tzinfo=UTC))}
    assert seen.get("3") is None
