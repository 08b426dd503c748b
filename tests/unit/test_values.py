"""Value objects: screening outcomes, dimension ratings and session durations."""

from __future__ import annotations

from enum import Enum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidValue
from domain.values import (
    AgeGroup,
    DimensionRatings,
    ScreeningOutcome,
    ScreeningResult,
    Specimen,
    SpecimenStatus,
    SubstanceResult,
    check_duration_minutes,
    parse_choice,
)

# ---- screening outcomes ----------------------------------------------------------------------


def test_all_negative_is_negative() -> None:
    """A valid specimen negative for everything is negative."""
    result = ScreeningResult.parse("urine", "valid", {"opiates": "negative", "thc": "negative"})
    assert result.outcome is ScreeningOutcome.NEGATIVE


@pytest.mark.parametrize(
    ("fentanyl", "outcome", "unexpected"),
    [
        ("negative", ScreeningOutcome.EXPECTED_POSITIVE, frozenset()),
        ("positive", ScreeningOutcome.UNEXPECTED_POSITIVE, {"fentanyl"}),
    ],
)
def test_only_positives_for_something_prescribed_are_expected(
    fentanyl: str, outcome: ScreeningOutcome, unexpected: frozenset[str]
) -> None:
    """Given buprenorphine is prescribed: when the only positive is buprenorphine, the outcome
    is expected_positive, not a relapse; when fentanyl is also positive, it is
    unexpected_positive and names fentanyl only."""
    result = ScreeningResult.parse(
        "urine",
        "valid",
        {"buprenorphine": "positive", "fentanyl": fentanyl},
        prescribed=["buprenorphine"],
    )
    assert result.outcome is outcome
    assert result.unexpected_positives == unexpected


def test_prescription_matching_ignores_case_and_spacing() -> None:
    """'Buprenorphine ' prescribed matches a 'buprenorphine' result."""
    result = ScreeningResult.parse(
        "urine", "valid", {"buprenorphine": "positive"}, prescribed=["Buprenorphine "]
    )
    assert result.outcome is ScreeningOutcome.EXPECTED_POSITIVE


def test_positive_with_nothing_prescribed_is_unexpected() -> None:
    """A buprenorphine positive with no prescription on record is unexpected."""
    result = ScreeningResult.parse("oral_fluid", "valid", {"buprenorphine": "positive"})
    assert result.outcome is ScreeningOutcome.UNEXPECTED_POSITIVE


@pytest.mark.parametrize("status", ["dilute", "adulterated", "refused", "missed"])
def test_invalid_specimens_are_their_own_outcome_never_negative(status: str) -> None:
    """Dilute, adulterated, refused and missed specimens keep their own outcome, even when the
    lab reported every substance negative."""
    with_results = ScreeningResult.parse("urine", status, {"opiates": "negative"})
    without_results = ScreeningResult.parse("urine", status, {})
    for result in (with_results, without_results):
        assert result.outcome.value == status
        assert result.outcome is not ScreeningOutcome.NEGATIVE


def test_outcomes_cover_every_specimen_status() -> None:
    """Every non-valid specimen status has an outcome of the same name."""
    outcomes = {o.value for o in ScreeningOutcome}
    assert {s.value for s in SpecimenStatus if s is not SpecimenStatus.VALID} <= outcomes


def test_a_valid_specimen_needs_results() -> None:
    """A valid specimen with no substance results is refused, naming results."""
    with pytest.raises(InvalidValue) as caught:
        ScreeningResult.parse("urine", "valid", {})
    assert caught.value.field == "results"


@pytest.mark.parametrize(
    ("specimen", "status", "results", "field"),
    [
        ("hair", "valid", {"thc": "negative"}, "specimen"),
        ("urine", "inconclusive", {"thc": "negative"}, "status"),
        ("urine", "valid", {"thc": "maybe"}, "results.thc"),
        ("urine", "valid", {"": "positive"}, "results"),
    ],
)
def test_malformed_screening_names_the_field(
    specimen: str, status: str, results: dict[str, str], field: str
) -> None:
    """An unknown specimen, status or result value, or an empty substance name, is refused
    naming the offending field."""
    with pytest.raises(InvalidValue) as caught:
        ScreeningResult.parse(specimen, status, results)
    assert caught.value.field == field


# ---- dimension ratings -----------------------------------------------------------------------

VALID_RATINGS: dict[str, object] = {"d1": 0, "d2": 1, "d3": 2, "d4": 3, "d5": 4, "d6": 0}


def test_six_ratings_from_0_to_4_parse() -> None:
    """Six whole-number ratings between 0 and 4 parse and round-trip through as_dict."""
    assert DimensionRatings.parse(VALID_RATINGS).as_dict() == VALID_RATINGS


@pytest.mark.parametrize("bad", [5, -1, True, False, 2.0, "2", None])
def test_rating_out_of_range_or_not_an_integer_names_the_dimension(bad: object) -> None:
    """5, -1, booleans, floats, text and null are refused, naming dimensions.d3."""
    with pytest.raises(InvalidValue) as caught:
        DimensionRatings.parse({**VALID_RATINGS, "d3": bad})
    assert caught.value.field == "dimensions.d3"


def test_missing_dimension_is_refused_naming_it() -> None:
    """Ratings without d6 are refused, naming dimensions.d6."""
    ratings = {k: v for k, v in VALID_RATINGS.items() if k != "d6"}
    with pytest.raises(InvalidValue) as caught:
        DimensionRatings.parse(ratings)
    assert caught.value.field == "dimensions.d6"


def test_unknown_dimension_is_refused_naming_it() -> None:
    """A seventh dimension d7 is refused, naming dimensions.d7."""
    with pytest.raises(InvalidValue) as caught:
        DimensionRatings.parse({**VALID_RATINGS, "d7": 1})
    assert caught.value.field == "dimensions.d7"


# ---- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [1, 60, 180, 1439])
def test_durations_from_one_minute_to_under_a_day_are_accepted(minutes: int) -> None:
    """Any positive whole number of minutes under 24 hours is a session duration."""
    assert check_duration_minutes(minutes) == minutes


@pytest.mark.parametrize("minutes", [0, -30, 1440, 10_000, True, 60.0, "60", None])
def test_durations_that_are_not_positive_whole_minutes_under_a_day_are_refused(
    minutes: object,
) -> None:
    """Zero, negative, 24 hours or more, booleans, floats and text name duration_minutes."""
    with pytest.raises(InvalidValue) as caught:
        check_duration_minutes(minutes)
    assert caught.value.field == "duration_minutes"


# ---- closed vocabularies -----------------------------------------------------------------------

_VOCABULARIES = [Specimen, SpecimenStatus, SubstanceResult, ScreeningOutcome, AgeGroup]


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(_VOCABULARIES),
    value=st.one_of(
        st.sampled_from([m for kind in _VOCABULARIES for m in kind]),  # members themselves
        st.sampled_from([m.value for kind in _VOCABULARIES for m in kind]),
        st.text(max_size=12),
        st.integers(),
        st.none(),
        st.lists(st.text(max_size=3), max_size=2),  # unhashable, as a JSON array arrives
        st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    ),
)
def test_parse_choice_answers_what_the_enum_itself_answers(kind: type[Enum], value: object) -> None:
    """The member-by-value table parse_choice looks in first chooses the member calling the
    enum class chooses, and whatever the class refuses is an InvalidValue naming the field."""
    try:
        expected = kind(value)
    except (ValueError, TypeError):
        with pytest.raises(InvalidValue) as refused:
            parse_choice(kind, value, "results.opiates")
        assert refused.value.field == "results.opiates"
    else:
        assert parse_choice(kind, value, "results.opiates") is expected
