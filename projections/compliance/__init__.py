"""Compliance: one participant's facts folded from their stream (`state`), judged as of a
date against the program's policy (`report.evaluate`), one module per family of rules."""

from __future__ import annotations

from projections.compliance.cadence import Finding
from projections.compliance.report import ComplianceReport, evaluate
from projections.compliance.state import ComplianceState, apply, fold, fold_all
from projections.compliance.weekly import WeekRow

__all__ = [
    "ComplianceReport",
    "ComplianceState",
    "Finding",
    "WeekRow",
    "apply",
    "evaluate",
    "fold",
    "fold_all",
]
