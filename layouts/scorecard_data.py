"""What the scorecard's screens read, bound to this app: a unit's 766 index in a period
(``ioc.scorecard``), an indicator's drill-down, the periods kept, and the province's targets
(``ioc.targets``).

One seam: the room, the drill-down and the wall's scene call these and nothing else of the index,
so everything they draw is the server's arithmetic (a what-if included) and a test can hand them
known answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ioc import scorecard
from ioc.config import Settings
from ioc.documents import DrilldownAnswer, PeriodsAnswer, ScorecardAnswer, TargetsAnswer
from ioc.snapshots import SnapshotReader
from ioc.targets import targets_answer
from ioc.units import UnitTable

# The feeds whose pushes change a scorecard: the live counts and the portal's publications.
SCORECARD_FEEDS = tuple(scorecard.live_feeds())
# The indicators a what-if may change: the scored ones the feeds compute.
WHAT_IF_INDICATORS = ("2.1", "3.3", "3.6", "4.2", "5.1", "5.2")
BadRequest = scorecard.BadRequest


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Scorecards:
    """The scorecard of this app's units; ``feeds`` are the configured feeds it follows."""

    reader: SnapshotReader
    units: UnitTable
    settings: Settings
    feeds: tuple[str, ...]
    clock: Callable[[], datetime] = field(default=_now)  # tests pin it

    def answer(
        self, unit: str, period: str | None = None, what_if: Mapping[str, int] | None = None
    ) -> ScorecardAnswer:
        """``unit``'s index in ``period`` (the current month by default); BadRequest says why not."""
        return scorecard.scorecard(
            self.reader, self.units, self.settings, unit, period, what_if, now=self.clock()
        )

    def drilldown(self, indicator: str, period: str | None, parent: str) -> DrilldownAnswer:
        return scorecard.drilldown(
            self.reader, self.units, self.settings, indicator, period, parent, now=self.clock()
        )

    def periods(self) -> PeriodsAnswer:
        return scorecard.periods(self.clock())

    def targets(self) -> TargetsAnswer:
        """The configured targets, each with its 12-week trend and projection."""
        return targets_answer(self.reader, self.units, self.settings, self.today(), now=self.clock())

    def today(self) -> date:
        return self.clock().date()
