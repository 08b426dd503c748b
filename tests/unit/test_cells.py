"""Sealed cells: AES-GCM bound to table, column and row; HMAC tags; key ids for rotation."""

from __future__ import annotations

import pytest

from api.settings import SettingsError
from api.storage.cells import PLAIN, CellCipher, CellError, Where, cells_for, key_id_of
from api.storage.cipher import create_cipher_key

HERE = Where("disclosures", "recipient", "p-1@1000")


def test_a_sealed_cell_opens_only_in_its_own_table_column_and_row() -> None:
    """A cell opens where it was sealed; copied to another row, column or table it fails."""
    cells = CellCipher(create_cipher_key())
    sealed = cells.seal("billing-service", HERE)
    assert "billing-service" not in sealed
    assert cells.open(sealed, HERE) == "billing-service"
    for elsewhere in (
        Where("disclosures", "recipient", "p-2@1000"),
        Where("disclosures", "channel", "p-1@1000"),
        Where("access_log", "recipient", "p-1@1000"),
    ):
        with pytest.raises(CellError, match="altered or moved"):
            cells.open(sealed, elsewhere)


def test_each_seal_is_fresh_but_tags_are_equal_for_equal_values() -> None:
    """Two seals of one value differ (a fresh nonce each); tags are equal for equal values,
    differ by column and by key, and never spell the value."""
    key = create_cipher_key()
    cells = CellCipher(key)
    assert cells.seal("x", HERE) != cells.seal("x", HERE)
    assert cells.tag("harbor-php", "program_id") == CellCipher(key).tag("harbor-php", "program_id")
    assert cells.tag("harbor-php", "program_id") != cells.tag("harbor-php", "status")
    other = CellCipher(create_cipher_key())
    assert cells.tag("harbor-php", "program_id") != other.tag("harbor-php", "program_id")
    assert "harbor" not in cells.tag("harbor-php", "program_id")


def test_a_cell_names_its_key_and_another_key_is_refused_by_name() -> None:
    """Every cell carries its key's id: a reader with another key says which key sealed it;
    a plain value on a keyed store is refused too."""
    old, new = CellCipher(create_cipher_key()), CellCipher(create_cipher_key())
    sealed = old.seal("x", HERE)
    assert key_id_of(sealed) == old.key_id != new.key_id
    assert old.sealed_here(sealed) and not new.sealed_here(sealed)
    with pytest.raises(CellError, match=f"sealed with key {old.key_id}"):
        new.open(sealed, HERE)
    with pytest.raises(CellError, match="plain text"):
        new.open("x", HERE)


def test_without_a_key_cells_are_stored_as_they_are() -> None:
    assert cells_for(None) is PLAIN
    assert PLAIN.seal("x", HERE) == "x" == PLAIN.open("x", HERE) == PLAIN.tag("x", "c")


@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ="])
def test_a_malformed_key_is_a_settings_error(key: str) -> None:
    with pytest.raises(SettingsError, match="CONTINUUM_CIPHER_KEY"):
        CellCipher(key)
