"""The evaluation figures (docs/evaluation.md) against an independent calculation.

The data is generated: items with random paths through the workflow and random times in each
state, statements with random turnarounds, follow-up reports. They are written as plain rows (the
database's triggers count them, as they count what the services write); the expected figures are
then worked out here from the generated list alone, exactly (nearest-rank percentiles over the
true durations), and the figures the application reports must agree: counts exactly, percentiles
as an upper bound at most one bucket (2^(1/4), about 19 %) above the true value.
"""
from __future__ import annotations

import csv
import io
import math
import random
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from app import services, statistics
from app.extensions import db
from app.models import FollowUp, Recommendation, Statement, User, utcnow
from tests.conftest import audit_count

PATHS = [
    ["draft"],
    ["draft", "submitted"],
    ["draft", "submitted", "in_moderation"],
    ["draft", "submitted", "in_moderation", "steering_review"],
    ["draft", "submitted", "in_moderation", "steering_review", "adopted"],
    ["draft", "submitted", "in_moderation", "steering_review", "rejected"],
    ["draft", "withdrawn"],
]
DEADLINE = {"steering_review": timedelta(days=42)}


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


def close_above(reported: int | None, exact: float) -> bool:
    """The reported bound is above the true value, by at most one bucket."""
    return reported is not None and exact < reported <= max(60, exact * 2 ** 0.25 + 1)


@pytest.fixture
def generated(world, make_user):
    """~240 items and their history, written as rows; returns what was generated."""
    rng = random.Random(20261202)
    now = utcnow()
    planning = services.create_department("planung", "Planungsamt")
    social = services.create_department("sozial", "Sozialamt")
    other = world.other_process
    expected = {"entered": defaultdict(int), "durations": defaultdict(list), "on_time": defaultdict(int),
                "late": defaultdict(int), "overdue": defaultdict(int), "st": defaultdict(lambda: defaultdict(int)),
                "st_time": defaultdict(list), "fu_done": 0, "fu_reports": defaultdict(int)}
    number = {world.process.id: 0, other.id: 0}
    for _ in range(240):
        process = world.process if rng.random() < 0.8 else other
        counted = process.id == world.process.id
        path = rng.choice(PATHS)
        moment = now - timedelta(days=400)
        number[process.id] += 1
        rec_id = db.session.execute(insert(Recommendation).values(
            process_id=process.id, number=number[process.id], title="t", body="b", body_html="<p>b</p>", state=path[0],
            version=1, state_entered_at=moment, created_at=moment, updated_at=moment, due_at=None,
        ).returning(Recommendation.id)).scalar_one()
        if counted:
            expected["entered"][path[0]] += 1
        due = None
        for source, dest in zip(path, path[1:]):
            spent = timedelta(seconds=rng.choice([rng.uniform(1, 59), rng.uniform(60, 86400), rng.uniform(86400, 90 * 86400)]))
            moment += spent
            if counted:
                expected["entered"][dest] += 1
                expected["durations"][source].append(spent.total_seconds())
                if due is not None:
                    expected["on_time" if moment <= due else "late"][source] += 1
            due = moment + DEADLINE[dest] if dest in DEADLINE else None
            db.session.execute(update(Recommendation).where(Recommendation.id == rec_id).values(
                state=dest, state_entered_at=moment, due_at=due, version=Recommendation.version + 1))
        if path[-1] == "steering_review":
            # Some wait past their deadline (overdue now), some are due later.
            # Days ago, or earlier today (the figures count those from the index, the rest from counters).
            current_due = (now - timedelta(seconds=rng.randint(1, 30)) if rng.random() < 0.2
                           else now + timedelta(days=rng.choice([-30, -1, 1, 30]), seconds=rng.randint(1, 3600)))
            db.session.execute(update(Recommendation).where(Recommendation.id == rec_id).values(due_at=current_due))
            if counted and current_due < now:
                expected["overdue"]["steering_review"] += 1
            for department in (planning, social):
                if rng.random() < 0.6:
                    asked = now - timedelta(days=rng.uniform(1, 60))
                    statement_due = asked + timedelta(days=21)
                    statement_id = db.session.execute(insert(Statement).values(
                        recommendation_id=rec_id, department_id=department.id, status="requested",
                        requested_by_id=world.administrator.id, requested_at=asked, due_at=statement_due,
                        visibility="public").returning(Statement.id)).scalar_one()
                    if counted:
                        expected["st"][department.slug]["requested"] += 1
                    if rng.random() < 0.7:
                        answered = asked + timedelta(seconds=rng.uniform(30, 50 * 86400))
                        status = rng.choice(["answered", "answered", "declined"])
                        db.session.execute(update(Statement).where(Statement.id == statement_id).values(
                            status=status, answered_at=answered, answered_by_id=world.administrator.id,
                            body="ok" if status == "answered" else None, reason="no" if status == "declined" else None))
                        if counted:
                            expected["st"][department.slug][status] += 1
                            expected["st"][department.slug]["on_time" if answered <= statement_due else "late"] += 1
                            expected["st_time"][department.slug].append((answered - asked).total_seconds())
        if path[-1] == "adopted":
            statuses = rng.choice([["planned"], ["planned", "done"], ["in_progress", "done", "done"], []])
            for status in statuses:
                db.session.execute(insert(FollowUp).values(
                    recommendation_id=rec_id, status=status, body="r", body_html="<p>r</p>",
                    author_id=world.administrator.id, created_at=now))
                if counted:
                    expected["fu_reports"][status] += 1
            if counted and "done" in statuses:
                expected["fu_done"] += 1
    db.session.commit()
    return world, expected


def test_the_figures_agree_with_an_independent_calculation(generated):
    world, expected = generated
    figures = statistics.figures(world.process)
    states = {s.name: s for s in figures.states}
    assert {name: s.entered for name, s in states.items()} == dict(expected["entered"])
    for name, durations in expected["durations"].items():
        state = states[name]
        assert state.left == len(durations)
        assert close_above(state.median, nearest_rank(durations, 0.5)), (name, state.median)
        assert close_above(state.p90, nearest_rank(durations, 0.9)), (name, state.p90)
    for name in states:
        if name not in expected["durations"]:
            assert states[name].left == 0 and states[name].median is None
        assert (states[name].on_time, states[name].late) == (expected["on_time"][name], expected["late"][name])
        assert states[name].overdue == expected["overdue"][name]
    judged = sum(expected["on_time"].values()) + sum(expected["late"].values())
    assert judged > 0 and figures.share_on_time == pytest.approx(sum(expected["on_time"].values()) / judged)
    assert figures.overdue == sum(expected["overdue"].values())

    departments = {d.slug: d for d in figures.departments}
    assert set(departments) == set(expected["st"])
    for slug, counts in expected["st"].items():
        d = departments[slug]
        assert (d.requested, d.answered, d.declined, d.on_time, d.late) == (
            counts["requested"], counts["answered"], counts["declined"], counts["on_time"], counts["late"])
        assert close_above(d.median, nearest_rank(expected["st_time"][slug], 0.5))
        assert close_above(d.p90, nearest_rank(expected["st_time"][slug], 0.9))
    assert figures.follow_ups_done == expected["fu_done"]
    assert figures.follow_up_reports == dict(expected["fu_reports"])

    # Installation-wide: both processes together, so at least as much as the one.
    everywhere = {s.name: s.entered for s in statistics.figures().states}
    assert all(everywhere[name] >= n for name, n in expected["entered"].items())
    assert sum(everywhere.values()) > sum(expected["entered"].values())


def test_the_csv_says_what_the_page_says(generated, client):
    world, expected = generated
    answer = client.get(f"/processes/{world.process.slug}/evaluation.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert tuple(rows[0]) == statistics.CSV_COLUMNS
    states = {r["key"]: r for r in rows if r["section"] == "state"}
    assert {k: int(r["entered"]) for k, r in states.items()} == dict(expected["entered"])
    review = states["steering_review"]
    assert int(review["overdue_now"]) == expected["overdue"]["steering_review"]
    assert close_above(int(states["draft"]["median_seconds_at_most"]), nearest_rank(expected["durations"]["draft"], 0.5))
    done = [r for r in rows if r["section"] == "follow_ups_done"]
    assert int(done[0]["count"]) == expected["fu_done"]
    statements = {r["key"]: r for r in rows if r["section"] == "statements"}
    assert {k: int(r["count"]) for k, r in statements.items()} == {k: v["requested"] for k, v in expected["st"].items()}


def test_the_page_draws_accessible_charts_with_their_data_as_tables(generated, client):
    world, expected = generated
    page = client.get(f"/processes/{world.process.slug}/evaluation")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('role="img"') >= 3
    assert 'aria-labelledby="chart-entered-title chart-entered-desc"' in html
    assert "<title id=\"chart-entered-title\">How often each state was entered</title>" in html
    assert html.count("<table") >= 3
    assert f"<td>{expected['entered']['steering_review']}</td>" in html
    assert client.get("/evaluation").status_code == 200
    assert client.get("/processes/nowhere/evaluation").status_code == 404
    assert client.get("/processes/nowhere/evaluation.csv").status_code == 404


def test_what_the_services_do_is_counted_too(world, rec_in):
    rec = rec_in(world, "steering_review")
    figures = {s.name: s for s in statistics.figures(world.process).states}
    assert [figures[name].entered for name in ("draft", "submitted", "in_moderation", "steering_review")] == [1, 1, 1, 1]
    assert figures["draft"].left == 1 and figures["draft"].median == 60  # left within a minute
    assert figures["steering_review"].left == 0 and rec.due_at is not None


def test_the_buckets_are_the_migrations():
    from importlib import import_module
    migration = import_module("app.migrations.versions.0016_categories_and_evaluation")
    assert migration.BOUNDS == statistics.BOUNDS
    for seconds in (0, 59.9, 60, 61, 3600, 86400 * 3.3, 10**9):
        assert migration.bucket_of(seconds) == statistics.bucket_of(seconds)


# -- affiliation groups -------------------------------------------------------------------

GROUPS = ["Property owners", "Young people", "Culture"]


@pytest.fixture
def groups(app):
    app.config["AFFILIATION_GROUPS"] = GROUPS
    return GROUPS


def test_groups_of_fewer_than_five_are_not_shown(world, make_user, groups, client):
    for index in range(7):
        person = make_user(f"Owner {index}")
        services.grant_role(world.process, person, "member")
        services.set_affiliation(person, "Property owners")
        if index < 5:
            services.create_recommendation(world.process.id, person, "Title", "Body")
    for index in range(4):
        person = make_user(f"Young {index}")
        services.grant_role(world.process, person, "member")
        services.set_affiliation(person, "Young people")
        services.create_recommendation(world.process.id, person, "Title", "Body")
    # Counted up to the start of today, not live: what was written today shows tomorrow (a count that
    # grew right after someone's public contribution would tell which group they stated).
    assert statistics.participation(world.process) == []
    assert "Property owners" not in client.get(f"/processes/{world.process.slug}/evaluation").get_data(as_text=True)
    today = statistics.start_of_today()
    assert today <= utcnow() < today + timedelta(days=1, hours=1)
    db.session.execute(update(Recommendation).values(created_at=today - timedelta(hours=1)))
    db.session.commit()
    # Five owners took part (two stated a group but wrote nothing); four young people: too few to show.
    assert statistics.participation(world.process) == [("Property owners", 5)]
    assert statistics.participation(world.other_process) == []
    html = client.get(f"/processes/{world.process.slug}/evaluation").get_data(as_text=True)
    assert "Property owners" in html and "Young people" not in html
    rows = list(csv.DictReader(io.StringIO(client.get("/evaluation.csv").get_data(as_text=True))))
    assert [(r["key"], r["count"]) for r in rows if r["section"] == "affiliation"] == [("Property owners", "5")]
    # Erasing one of the five takes the group below the threshold: it is no longer shown.
    owner = db.session.scalars(select(User).where(User.name == "Owner 0")).one()
    services.erase_user(owner.id, None)
    db.session.expire_all()
    assert db.session.get(User, owner.id).affiliation is None
    assert statistics.participation(world.process) == []


def test_stating_a_group_is_voluntary_revocable_and_checked(world, groups, browser, people):
    people(world)
    member = browser(world.member)
    page = member.get("/settings/affiliation")
    assert "Young people" in page.text
    events = audit_count()
    member.post("/settings/affiliation", {"group": "Young people"})
    db.session.expire_all()
    assert db.session.get(type(world.member), world.member.id).affiliation == "Young people"
    member.post("/settings/affiliation", {"group": "Nobody's group"}, follow=False, status=303)
    db.session.expire_all()
    assert db.session.get(type(world.member), world.member.id).affiliation == "Young people"  # unchanged
    assert "is not one of the affiliation groups" in member.get("/settings/affiliation").text
    member.post("/settings/affiliation", {"group": ""})
    db.session.expire_all()
    assert db.session.get(type(world.member), world.member.id).affiliation is None
    assert audit_count() == events + 2


def test_without_groups_the_question_is_not_asked(world, browser, people):
    people(world)
    assert browser(world.member).get("/settings/affiliation", status=404)
    assert browser().get("/settings/affiliation", status=302)
