"""ASAM levels of care: which codes each criteria edition knows, and how levels compare."""

from __future__ import annotations

import pytest

from domain.errors import InvalidValue
from domain.levels import CriteriaEdition, LevelOfCare


@pytest.mark.parametrize("code", ["0.5", "1", "2.1", "2.5", "3.1", "3.3", "3.5", "3.7", "4"])
def test_third_edition_codes_parse(code: str) -> None:
    """Every 3rd-edition level code parses and keeps its edition."""
    level = LevelOfCare.parse(code, "3")
    assert level.code == code
    assert level.edition is CriteriaEdition.THIRD


@pytest.mark.parametrize(
    "code", ["1.0", "1.5", "1.7", "2.1", "2.5", "2.7", "3.1", "3.5", "3.7", "4"]
)
def test_fourth_edition_codes_parse(code: str) -> None:
    """Every 4th-edition level code parses and keeps its edition."""
    level = LevelOfCare.parse(code, "4")
    assert level.code == code
    assert level.edition is CriteriaEdition.FOURTH


@pytest.mark.parametrize(
    ("code", "edition"),
    [
        ("3.3", "4"),  # dropped in the 4th edition
        ("0.5", "4"),  # early intervention is not a 4th-edition level
        ("1.5", "3"),  # a 4th-edition code
        ("1.7", "3"),
        ("2.7", "3"),
        ("1.0", "3"),
        ("2", "3"),
        ("", "3"),
        ("3.50", "3"),
    ],
)
def test_code_unknown_to_the_edition_is_refused_naming_the_field(code: str, edition: str) -> None:
    """A code the edition does not define is an InvalidValue on the field being parsed."""
    with pytest.raises(InvalidValue) as caught:
        LevelOfCare.parse(code, edition, field="to_level")
    assert caught.value.field == "to_level"
    assert caught.value.rule == "invalid_value"


@pytest.mark.parametrize("edition", ["2", "5", "", "third"])
def test_unknown_edition_is_refused(edition: str) -> None:
    """Only the 3rd and 4th editions exist; anything else names criteria_edition."""
    with pytest.raises(InvalidValue) as caught:
        LevelOfCare.parse("2.1", edition)
    assert caught.value.field == "criteria_edition"


def test_levels_order_by_intensity() -> None:
    """3.5 > 2.5 > 2.1, and sorting a mix of levels puts them in intensity order."""
    iop, php, residential = (LevelOfCare.parse(c) for c in ("2.1", "2.5", "3.5"))
    assert residential > php > iop
    assert iop < php < residential
    assert iop <= iop and iop >= iop
    assert sorted([residential, iop, php]) == [iop, php, residential]


def test_levels_compare_across_editions_by_intensity() -> None:
    """A 4th-edition 1.5 is below a 3rd-edition 2.1; the same code in both editions is as
    intense but not the same stored value (the edition is kept)."""
    assert LevelOfCare.parse("1.5", "4") < LevelOfCare.parse("2.1", "3")
    third, fourth = LevelOfCare.parse("2.1", "3"), LevelOfCare.parse("2.1", "4")
    assert third.same_intensity(fourth)
    assert third != fourth


@pytest.mark.parametrize(
    ("code", "edition", "residential", "inpatient"),
    [
        ("3.1", "3", True, False),
        ("3.3", "3", True, False),
        ("3.5", "4", True, False),
        ("3.7", "3", True, False),
        ("2.1", "3", False, False),
        ("2.5", "4", False, False),
        ("1", "3", False, False),
        ("4", "4", False, True),
    ],
)
def test_residential_is_3x_and_inpatient_is_4(
    code: str, edition: str, residential: bool, inpatient: bool
) -> None:
    """Residential means a 3.x level; inpatient means level 4; outpatient levels are neither."""
    level = LevelOfCare.parse(code, edition)
    assert level.is_residential is residential
    assert level.is_inpatient is inpatient


def test_level_2_is_the_outpatient_intensive_band() -> None:
    """2.1, 2.5 and 2.7 are level 2; 1.7 and 3.1 are not."""
    assert all(LevelOfCare.parse(c, "4").is_outpatient_level_2 for c in ("2.1", "2.5", "2.7"))
    assert not LevelOfCare.parse("1.7", "4").is_outpatient_level_2
    assert not LevelOfCare.parse("3.1", "4").is_outpatient_level_2


def test_names_follow_the_edition() -> None:
    """3.7 is 'Medically Monitored Intensive Inpatient' in the 3rd edition and 'Medically
    Managed Residential' in the 4th; str() is the bare code."""
    assert LevelOfCare.parse("3.7", "3").name == "Medically Monitored Intensive Inpatient"
    assert LevelOfCare.parse("3.7", "4").name == "Medically Managed Residential"
    assert str(LevelOfCare.parse("2.1")) == "2.1"


def test_levels_are_immutable() -> None:
    """A level is a value: its code cannot be reassigned."""
    level = LevelOfCare.parse("2.1")
    with pytest.raises(AttributeError):
        level.code = "3.5"  # type: ignore[misc]  # the point of the test
