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

    def __str__(self) -> str:
        return self.code
