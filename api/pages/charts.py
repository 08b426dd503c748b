"""The charts of a participant's page: weekly hours against the required minimum, and the
level-of-care journey as bands. Pure functions of the compliance report and level spans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from math import ceil

from api.pages.model import (
    WEEK_STATUS_LABELS,
    WeekTotal,
    event_anchor,
    hours_minutes,
    level_name,
    local,
)
from projections.level_of_care import LevelSpan

# ---- weekly hours ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label_x: float
    label: str
    status: str
    title: str
    min_y: float  # the level's minimum, as a y coordinate
    hours_label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    ticks: list[tuple[float, str]]  # (y, label)
    bars: list[Bar]
    minimum_path: str  # a step line at each week's required hours
    summary: str


CHART_HEIGHT = 240
PLOT_LEFT, PLOT_TOP, PLOT_BOTTOM_MARGIN, PLOT_RIGHT_MARGIN = 48, 16, 40, 16
MIN_SLOT, MAX_SLOT, CHART_TARGET_WIDTH = 36, 88, 1040


def hours_chart(totals: Sequence[WeekTotal]) -> Chart | None:
    """Geometry of the SVG chart: a bar of structured hours per week, the minimum as a line."""
    if not totals:
        return None
    top_value = max(max(t.hours for t in totals), max(t.required for t in totals), 1.0)
    step = 5 if top_value > 12 else 2
    scale_max = ceil(top_value * 1.1 / step) * step
    # Wide bars for a short stay, narrower ones (and a scrolling chart) for a long one.
    slot = max(MIN_SLOT, min(MAX_SLOT, (CHART_TARGET_WIDTH - PLOT_LEFT) // len(totals)))
    width = PLOT_LEFT + slot * len(totals) + PLOT_RIGHT_MARGIN
    bottom = CHART_HEIGHT - PLOT_BOTTOM_MARGIN
    span = bottom - PLOT_TOP

    def y(value: float) -> float:
        return round(bottom - span * value / scale_max, 1)

    bars: list[Bar] = []
    path: list[str] = []
    for i, total in enumerate(totals):
        left = PLOT_LEFT + i * slot
        top = y(total.hours)
        min_y = y(total.required)
        path.append(f"{'M' if i == 0 else 'L'}{left} {min_y} L{left + slot} {min_y}")
        status = WEEK_STATUS_LABELS.get(total.status, total.status)
        bars.append(
            Bar(
                x=left + slot * 0.2,
                y=top,
                width=round(slot * 0.6, 1),
                height=round(bottom - top, 1),
                label_x=left + slot / 2,
                label=total.week_start.strftime("%-d %b"),
                status=total.status,
                title=(
                    f"Week of {total.week_start:%-d %b %Y}: {hours_minutes(total.minutes)} h of "
                    f"{hours_minutes(total.required_minutes)} h minimum at level {total.level} "
                    f"({status})"
                ),
                min_y=min_y,
                hours_label=hours_minutes(total.minutes),
            )
        )
    ticks = [(y(v), f"{v:g}") for v in range(0, scale_max + 1, step)]
    below = sum(1 for t in totals if t.status == "below_minimum")
    first, last = totals[0], totals[-1]
    summary = (
        f"{len(totals)} weeks from {first.week_start:%-d %b %Y} to {last.week_start:%-d %b %Y}; "
        f"latest week {hours_minutes(last.minutes)} h against a "
        f"{hours_minutes(last.required_minutes)} h minimum at level "
        f"{last.level}; {below} week(s) below the minimum."
    )
    return Chart(
        width=width,
        height=CHART_HEIGHT,
        plot_left=PLOT_LEFT,
        plot_right=width - PLOT_RIGHT_MARGIN,
        plot_top=PLOT_TOP,
        plot_bottom=bottom,
        ticks=ticks,
        bars=bars,
        minimum_path=" ".join(path),
        summary=summary,
    )


# ---- level journey ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JourneySpan:
    level: str
    name: str
    x: float
    width: float
    started: datetime
    ended: datetime | None
    label: str
    event_anchor: str


JOURNEY_WIDTH = 960


def journey(spans: Sequence[LevelSpan], now: datetime, tz: str) -> list[JourneySpan]:
    """Stays at each level as proportional segments of one strip (the bands of the page)."""
    if not spans:
        return []
    start = spans[0].started_at
    end = max(now, *(s.ended_at or s.started_at for s in spans))
    total = max((end - start).total_seconds(), 1.0)
    out: list[JourneySpan] = []
    for span in spans:
        until = span.ended_at or end
        x = (span.started_at - start).total_seconds() / total * JOURNEY_WIDTH
        width = max((until - span.started_at).total_seconds() / total * JOURNEY_WIDTH, 2.0)
        started = local(span.started_at, tz)
        ended = None if span.ended_at is None else local(span.ended_at, tz)
        days = (until - span.started_at).days
        out.append(
            JourneySpan(
                level=span.level,
                name=level_name(span.level, span.criteria_edition),
                x=round(x, 1),
                width=round(width, 1),
                started=started,
                ended=ended,
                label=f"Level {span.level} · {days} days" if width > 160 else span.level,
                event_anchor=event_anchor(span.event_id),
            )
        )
    return out
