"""The time range and timezone of a request, and the period/bucket expressions that depend on the timezone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pipelines.analysis.sqlparams import SqlParams

# Granularity -> start of the bucket as a DateTime in the request timezone ({tz} is the timezone placeholder).
BUCKETS = {
    "minute": "toStartOfMinute(ts, {tz})",
    "hour": "toStartOfHour(ts, {tz})",
    "day": "toStartOfDay(ts, {tz})",
    "week": "toDateTime(toMonday(ts, {tz}), {tz})",
    "month": "toDateTime(toStartOfMonth(ts, {tz}), {tz})",
}
# Retention periods -> the Date the period starts on, and how many whole periods lie between two period starts.
PERIOD_START = {"day": "toDate(ts, {tz})", "week": "toMonday(ts, {tz})", "month": "toStartOfMonth(ts, {tz})"}
PERIODS_BETWEEN = {
    "day": "dateDiff('day', {start}, {end})",
    "week": "intDiv(dateDiff('day', {start}, {end}), 7)",
    "month": "dateDiff('month', {start}, {end})",
}
PERIOD_MAX_DAYS = {"day": 1, "week": 7, "month": 31}


def _instant(value: dt.date | dt.datetime, zone: ZoneInfo, end: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    # A date means the whole day in the request's timezone: date_to is inclusive, so its end is the next midnight.
    day = value + dt.timedelta(days=1) if end else value
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


@dataclass(frozen=True)
class TimeRange:
    start_ms: int  # inclusive, epoch milliseconds
    end_ms: int  # exclusive
    timezone: str

    @classmethod
    def of(cls, scope) -> "TimeRange":
        return cls.between(scope.date_from, scope.date_to, scope.timezone)

    @classmethod
    def between(cls, date_from: dt.date | dt.datetime, date_to: dt.date | dt.datetime, timezone: str) -> "TimeRange":
        zone = ZoneInfo(timezone)
        start = _instant(date_from, zone, end=False)
        end = _instant(date_to, zone, end=True)
        return cls(int(start.timestamp() * 1000), int(end.timestamp() * 1000), timezone)

    def days(self) -> tuple[dt.date, int]:
        """The first day of the range in its timezone and how many days it touches."""
        zone = ZoneInfo(self.timezone)
        first = dt.datetime.fromtimestamp(self.start_ms / 1000, zone).date()
        last = dt.datetime.fromtimestamp((self.end_ms - 1) / 1000, zone).date()
        return first, (last - first).days + 1

    def shifted_back(self) -> "TimeRange":
        """The period of the same length just before this one (for compare-to-previous)."""
        length = self.end_ms - self.start_ms
        return TimeRange(self.start_ms - length, self.start_ms, self.timezone)

    def extended(self, extra_ms: int) -> "TimeRange":
        return TimeRange(self.start_ms, self.end_ms + extra_ms, self.timezone)

    def condition(self, params: SqlParams, start_hint: str = "time_from", end_hint: str = "time_to") -> str:
        start = params.add(start_hint, self.start_ms, "Int64")
        end = params.add(end_hint, self.end_ms, "Int64")
        return f"ts >= fromUnixTimestamp64Milli({start}) AND ts < fromUnixTimestamp64Milli({end})"


def tz_placeholder(params: SqlParams, timezone: str) -> str:
    if "tz" not in params.values:
        params.add("tz", timezone, "String")
    return "{tz:String}"
