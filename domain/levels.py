"""ASAM levels of care, stored with the criteria edition that defined them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import InvalidValue


class CriteriaEdition(StrEnum):
    THIRD = "3"
    FOURTH = "4"


_NAMES: dict[CriteriaEdition, dict[str, str]] = {
    CriteriaEdition.THIRD: {
        "0.5": "Early Intervention",
        "1": "Outpatient",
        "2.1": "Intensive Outpatient",
        "2.5": "Partial Hospitalization",
        "3.1": "Clinically Managed Low-Intensity Residential",
        "3.3": "Clinically Managed Population-Specific High-Intensity Residential",
        "3.5": "Clinically Managed High-Intensity Residential",
        "3.7": "Medically Monitored Intensive Inpatient",
        "4": "Medically Managed Intensive Inpatient",
    },
    CriteriaEdition.FOURTH: {
        "1.0": "Long-Term Remission Monitoring",
        "1.5": "Outpatient Therapy",
        "1.7": "Medically Managed Outpatient",
        "2.1": "Intensive Outpatient",
        "2.5": "High-Intensity Outpatient",
        "2.7": "Medically Managed Intensive Outpatient",
        "3.1": "Clinically Managed Low-Intensity Residential",
        "3.5": "Clinically Managed High-Intensity Residential",
        "3.7": "Medically Managed Residential",
        "4": "Medically Managed Inpatient",
    },
}

# The ASAM Criteria 4th edition (2023) splits 3rd-edition Level 1 into 1.0 (long-term remission
# monitoring) and 1.5 (outpatient therapy); 1.5 is the equivalent of a 3rd-edition Level 1
# outpatient stay. Codes that exist in both editions mean the same level.
_RECODES: dict[tuple[str, CriteriaEdition], tuple[str, CriteriaEdition]] = {
    ("1", CriteriaEdition.THIRD): ("1.5", CriteriaEdition.FOURTH),
    ("1.5", CriteriaEdition.FOURTH): ("1", CriteriaEdition.THIRD),
}


def _equivalent_code(code: str, edition: CriteriaEdition) -> tuple[str, CriteriaEdition] | None:
    """The equivalent level in the other edition, or None when it has none."""
    if (code, edition) in _RECODES:
        return _RECODES[(code, edition)]
    other = CriteriaEdition.FOURTH if edition is CriteriaEdition.THIRD else CriteriaEdition.THIRD
    return (code, other) if code in _NAMES[other] else None


def is_recode(from_level: str, from_edition: str, to_level: str, to_edition: str) -> bool:
    """Whether a move between these stored codes is an edition re-code, not a level change."""
    try:
        source = LevelOfCare(from_level, CriteriaEdition(str(from_edition)))
        target = LevelOfCare(to_level, CriteriaEdition(str(to_edition)))
    except ValueError:
        return False
    return target.is_recode_of(source)


ALL_LEVEL_CODES: tuple[str, ...] = tuple(
    sorted({code for names in _NAMES.values() for code in names}, key=float)
)


@dataclass(frozen=True, order=False)
class LevelOfCare:
    """A level code within one criteria edition; compares by intensity."""

    code: str
    edition: CriteriaEdition = CriteriaEdition.THIRD

    @classmethod
    def parse(cls, code: str, edition: str = "3", *, field: str = "level") -> LevelOfCare:
        try:
            parsed_edition = CriteriaEdition(str(edition))
        except ValueError:
            raise InvalidValue(
                "criteria_edition", f"must be one of 3, 4; got {edition!r}"
            ) from None
        if code not in _NAMES[parsed_edition]:
            allowed = ", ".join(_NAMES[parsed_edition])
            raise InvalidValue(
                field, f"{code!r} is not a level of the edition {parsed_edition.value} ({allowed})"
            )
        return cls(code, parsed_edition)

    @property
    def intensity(self) -> float:
        return float(self.code)

    @property
    def name(self) -> str:
        return _NAMES[self.edition][self.code]

    @property
    def is_residential(self) -> bool:
        return 3 <= self.intensity < 4

    @property
    def is_inpatient(self) -> bool:
        return self.intensity >= 4

    @property
    def is_outpatient_level_2(self) -> bool:
        return 2 <= self.intensity < 3

    def __lt__(self, other: LevelOfCare) -> bool:
        return self.intensity < other.intensity

    def __le__(self, other: LevelOfCare) -> bool:
        return self.intensity <= other.intensity

    def __gt__(self, other: LevelOfCare) -> bool:
        return self.intensity > other.intensity

    def __ge__(self, other: LevelOfCare) -> bool:
        return self.intensity >= other.intensity

    def same_intensity(self, other: LevelOfCare) -> bool:
        return self.intensity == other.intensity

    def in_edition(self, edition: CriteriaEdition) -> LevelOfCare:
        """This level as coded in `edition` (itself when that edition has no equivalent)."""
        if edition is self.edition:
            return self
        equivalent = _equivalent_code(self.code, self.edition)
        return self if equivalent is None else LevelOfCare(*equivalent)

    def is_recode_of(self, other: LevelOfCare) -> bool:
        """Whether this is `other` re-coded into the other criteria edition (neither a step-up
        nor a step-down: the ASAM Criteria 4th edition's crosswalk from the 3rd)."""
        if self.edition is other.edition:
            return False
        return _equivalent_code(other.code, other.edition) == (self.code, self.edition)

    def __str__(self) -> str:
        return self.code
