"""Ids in the forms other systems accept (domain/ids.py), and back."""

import uuid

import pytest

from runplane.domain.ids import from_short_form, from_uuid_form, new_id, short_form, uuid_form

pytestmark = pytest.mark.database_independent


def test_a_run_id_as_26_characters_and_as_a_uuid_maps_back_without_a_table() -> None:
    for _ in range(200):
        run_id = new_id("run")
        short = short_form(run_id, "run")
        assert short is not None and len(short) == 26
        assert from_short_form(short, "run") == run_id
        assert from_short_form(short.upper(), "run") == run_id
        as_uuid = uuid_form(run_id, "run")
        assert as_uuid is not None and str(uuid.UUID(as_uuid)) == as_uuid
        assert from_uuid_form(as_uuid, "run") == run_id


def test_what_cannot_be_an_id_maps_to_nothing() -> None:
    assert short_form("agt_01m8q225pxyvmda3msvfxps4bc", "run") is None
    assert from_short_form("not-an-id", "run") is None
    assert from_short_form("u" * 26, "run") is None  # 'u' is not in Crockford's alphabet
    assert from_uuid_form("nope", "run") is None
    assert uuid_form("run_short", "run") is None
