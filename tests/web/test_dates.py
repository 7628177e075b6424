"""The pages' date filter: prepared once per language and format, the same text as Flask-Babel's."""
from __future__ import annotations

from datetime import datetime

import flask_babel
import pytest

from app import create_app
from app.web import dates

# Around both daylight-saving changes in Berlin, a year's end, and microseconds (UTC, as stored).
MOMENTS = [datetime(2026, 3, 29, 0, 59, 59), datetime(2026, 3, 29, 1, 0, 0), datetime(2026, 10, 25, 0, 30),
           datetime(2026, 10, 25, 1, 30), datetime(2026, 12, 31, 23, 30), datetime(2026, 7, 1, 12, 0, 0, 123456)]


@pytest.fixture
def berlin(app_config):
    return create_app({**app_config, "BABEL_DEFAULT_TIMEZONE": "Europe/Berlin"})


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("fmt", dates.NAMED_FORMATS)
def test_dates_read_as_flask_babel_writes_them(berlin, language, fmt):
    with berlin.test_request_context(headers={"Accept-Language": language}):
        written = [dates.datetimeformat(moment, fmt) for moment in MOMENTS]
        if fmt == "short":  # the medium date with the short time: one way to write a date on every page
            medium, short = (flask_babel.format_datetime(MOMENTS[0], f) for f in ("medium", "short"))
            assert written[0] == f"{flask_babel.format_date(MOMENTS[0], 'medium')}, {flask_babel.format_time(MOMENTS[0], 'short')}"
            assert medium != short
        else:
            assert written == [flask_babel.format_datetime(moment, fmt) for moment in MOMENTS]
    assert written[0] != written[1]  # a second apart, across the spring change: 01:59 and 03:00


def test_the_pages_use_it_in_the_readers_language_and_the_installations_zone(berlin):
    assert berlin.jinja_env.filters["datetimeformat"] is dates.datetimeformat
    with berlin.test_request_context(headers={"Accept-Language": "de"}):
        assert dates.datetimeformat(datetime(2026, 10, 25, 0, 30), "short") == "25.10.2026, 02:30"  # summer time
        assert dates.datetimeformat(datetime(2026, 10, 25, 1, 30), "short") == "25.10.2026, 02:30"  # winter time again
    with berlin.test_request_context(headers={"Accept-Language": "en"}):
        assert dates.datetimeformat(datetime(2026, 10, 25, 1, 30), "short") == "Oct 25, 2026, 2:30\u202fAM"
    with berlin.test_request_context():
        assert dates.datetimeformat(datetime(2026, 12, 31, 23, 30), "yyyy") == "2027"  # other patterns: Flask-Babel's
