"""The pages' date filter: prepared once per language and format, the same text as Flask-Babel's."""
from __future__ import annotations

from datetime import datetime

import re

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


@pytest.mark.parametrize(("entered", "now", "days"), [
    # 23:30 and 00:30 in Berlin (CET, UTC+1): an hour, but the next calendar day.
    (datetime(2026, 1, 14, 22, 30), datetime(2026, 1, 14, 23, 30), 1),
    # 00:10 and 23:50 the same day in Berlin (CET): almost 24 hours, still today.
    (datetime(2026, 1, 14, 23, 10), datetime(2026, 1, 15, 22, 50), 0),
    # Across the spring change (a 23-hour day) and a summer evening (CEST, UTC+2).
    (datetime(2026, 3, 28, 23, 30), datetime(2026, 3, 29, 21, 30), 0),
    (datetime(2026, 7, 1, 21, 59), datetime(2026, 7, 1, 22, 1), 1),
    (datetime(2026, 7, 1, 12, 0), datetime(2026, 7, 4, 11, 0), 3),
    (datetime(2026, 7, 2, 12, 0), datetime(2026, 7, 1, 12, 0), 0),  # a clock a little behind: never negative
])
def test_days_since_counts_calendar_days_in_the_installations_time_zone(berlin, entered, now, days):
    with berlin.test_request_context():
        assert dates.days_since(entered, now) == days


def test_a_queue_says_since_today_and_one_day_by_the_local_calendar(app_config, world, people, rec_in):
    """Entered a minute before the local midnight: '1 day' at once, not 'since today' until 24 hours passed;
    entered a minute after it: 'since today' all day."""
    from app.extensions import db
    from app.models import Recommendation
    from app.statistics import start_of_today
    from app.transactions import write_transaction
    from datetime import timedelta
    from tests.web.browser import Browser, text_of

    auckland = create_app({**app_config, "BABEL_DEFAULT_TIMEZONE": "Pacific/Auckland"})
    with auckland.app_context():
        people(world)
        before, after = rec_in(world, "steering_review", title="Vor Mitternacht"), rec_in(world, "steering_review", title="Danach")
        midnight = start_of_today()
        with write_transaction() as session:
            session.get(Recommendation, before.id).state_entered_at = midnight - timedelta(minutes=1)
            session.get(Recommendation, after.id).state_entered_at = midnight + timedelta(minutes=1)
        db.session.expire_all()
        admin = Browser(auckland).login(world.administrator)
        page = text_of(admin.client.get("/steering").text)
    assert re.search(r"Vor Mitternacht .*?\(1 day\)", page), page
    assert re.search(r"Danach .*?\(since today\)", page), page
