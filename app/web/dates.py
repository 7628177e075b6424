"""The pages' ``datetimeformat`` and ``days_since`` filters; the first with Babel's patterns prepared once per language and format.

Flask-Babel's filter looks up the format, the locale, the time zone and Babel's patterns anew
for every date. A thread shows a date per comment, and at 1,000 comments that lookup was half
of the page's cost (profiled 2026-11-22). For the named formats this takes the steps
of Babel's own ``format_datetime`` with the patterns prepared once; any other pattern goes to
Flask-Babel unchanged. tests/web/test_dates.py holds the two equal for every language and
named format, across daylight-saving changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal, cast

from babel import Locale, dates
from flask_babel import format_datetime, get_locale, get_timezone

NAMED_FORMATS = ("full", "long", "medium", "short")
#: One way to write a date across the pages: "short" date-times carry the medium date ("21.11.2026, 14:03",
#: "Nov 21, 2026, 2:03 PM"), as the pages write dates alone, not Babel's two-digit year ("21.11.26").
DATE_OF = {"short": "medium"}


@lru_cache(maxsize=64)
def _patterns(locale: Locale, format: str) -> tuple[str, dates.DateTimePattern, dates.DateTimePattern]:
    """What Babel's ``format_datetime`` looks up for a named format: the frame and the date and time patterns."""
    named = cast(Literal["full", "long", "medium", "short"], format)
    return (
        str(dates.get_datetime_format(named, locale=locale)).replace("'", ""),
        dates.get_date_format(cast(Literal["full", "long", "medium", "short"], DATE_OF.get(named, named)), locale=locale),
        dates.get_time_format(named, locale=locale),
    )


def datetimeformat(value: datetime, format: str = "medium") -> str:
    """``value`` (naive UTC, as stored) in the reader's language and the installation's time zone."""
    if format not in NAMED_FORMATS or value is None:
        return format_datetime(value, format)
    locale, zone = get_locale(), get_timezone()
    frame, date_pattern, time_pattern = _patterns(locale, format)
    moment = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
    if hasattr(zone, "normalize"):  # pytz
        moment = zone.normalize(moment)
    return frame.replace("{0}", time_pattern.apply(moment.timetz(), locale, reference_date=moment.date())).replace(
        "{1}", date_pattern.apply(moment.date(), locale)
    )


def _local_date(value: datetime, zone):
    moment = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
    if hasattr(zone, "normalize"):  # pytz
        moment = zone.normalize(moment)
    return moment.date()


def days_since(value: datetime, now: datetime | None = None) -> int:
    """Calendar days from ``value`` to ``now`` (naive UTC, as stored) in the installation's time zone:
    0 on the same local day ("since today"), 1 from the next local midnight on, however few hours
    that is; never below 0."""
    zone = get_timezone()
    return max(0, (_local_date(now or datetime.now(UTC), zone) - _local_date(value, zone)).days)
