"""What every rule needs to judge one participant as of one date: the cut-off, the calendar
in the program's time zone, and the facts of an episode up to the cut-off.

Days, weeks and due dates are counted in the program's IANA zone (every US state surveyor
reads a program's records in its local days), the zone being the one the program's policy
names at the time. A week is judged in the zone in force when it began, so changing a
program's zone later never moves past sessions into other weeks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from domain.policy import PolicyTimeline, ProgramPolicy
from projections.compliance.cadence import ONE_DAY, Mark
from projections.compliance.state import ComplianceState, Entry, Episode, Stay
from projections.weeks import WEEK, local_date, start_of_day

FALLBACK_ZONE = "UTC"  # a timeline built without the service's zone (pure tests)


class Scope:
    """One state judged as of the end of the local day `as_of`."""

    def __init__(self, state: ComplianceState, as_of: date | datetime, timeline: PolicyTimeline):
        self.state = state
        self.timeline = timeline
        self.as_of = as_of if not isinstance(as_of, datetime) else self.day(as_of)
        self.cutoff = self.start_of(self.as_of + ONE_DAY)
        self.timezone = self.zone_at(self.cutoff - timedelta(microseconds=1))

    # ---- calendar -------------------------------------------------------------------------

    def zone_at(self, moment: datetime) -> str:
        return self.timeline.at(moment).timezone or FALLBACK_ZONE

    def day(self, moment: datetime) -> date:
        """The local calendar day `moment` falls on, in the zone in force at that moment."""
        return local_date(moment, self.zone_at(moment))

    def start_of(self, day: date) -> datetime:
        """The instant local `day` begins, in the zone in force then."""
        guess = start_of_day(day, self.zone_at(start_of_day(day, FALLBACK_ZONE)))
        return start_of_day(day, self.zone_at(guess))

    def week_bounds(self, monday: date) -> tuple[datetime, datetime]:
        """The week's instants: from its Monday's start to the next Monday's, each in the zone
        in force when it began (consecutive weeks share their boundary, none overlap)."""
        return self.start_of(monday), self.start_of(monday + WEEK)

    def mark(self, moment: datetime, event_id: str) -> Mark:
        return Mark(moment, self.day(moment), event_id)

    # ---- scoping --------------------------------------------------------------------------

    def ended(self, moment: datetime | None) -> datetime | None:
        """`moment` if it happened by the cut-off, else None (still open as of `as_of`)."""
        return moment if moment is not None and moment < self.cutoff else None

    def episode_end(self, episode: Episode) -> datetime | None:
        return self.ended(episode.discharged_at)

    def until(self, episode: Episode) -> date:
        """The last day rules run to: the discharge day, or the as-of date while active."""
        end = self.episode_end(episode)
        return self.as_of if end is None else self.day(end)

    def entries(self, episode: Episode, kind: str) -> list[Entry]:
        """Live entries of `kind` within the episode and on or before `as_of`."""
        discharged = self.episode_end(episode)
        return [
            e
            for e in self.state.live_entries(kind)
            if episode.admitted_at <= e.occurred_at
            and (e.occurred_at < self.cutoff if discharged is None else e.occurred_at <= discharged)
        ]

    def stays(self, episode: Episode) -> list[Stay]:
        return [
            s
            for s in self.state.stays
            if s.episode == episode.number and s.started_at < self.cutoff
        ]

    def runs(self, episode: Episode, needed: Callable[[Stay], bool]) -> list[list[Stay]]:
        """The episode's unbroken runs of consecutive stays that `needed` selects."""
        runs: list[list[Stay]] = []
        previous = False
        for stay in self.stays(episode):
            current = needed(stay)
            if current and previous:
                runs[-1].append(stay)
            elif current:
                runs.append([stay])
            previous = current
        return runs

    # ---- policy ---------------------------------------------------------------------------

    def policy(self, moment: datetime) -> ProgramPolicy:
        return self.timeline.at(moment)

    def days(self, mark: Mark, setting: str) -> timedelta:
        """The policy's `setting` (a number of days) in force at `mark`."""
        return timedelta(days=self.interval(setting)(mark))

    def interval(self, setting: str) -> Callable[[Mark], int]:
        """The policy's `setting` (a number of days) in force at each mark."""
        return lambda mark: int(getattr(self.timeline.at(mark.at), setting))
