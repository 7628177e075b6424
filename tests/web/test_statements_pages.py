"""Statements on the pages: ask, answer, decline, the department queue, and the administration."""
from __future__ import annotations

import re

from app import services
from app.extensions import db
from app.models import Department, DepartmentMember, Statement
from tests.conftest import audit_count


def _departments(make_user):
    planning = services.create_department("stadtplanung", "Stadtentwicklungsamt")
    social = services.create_department("sozialamt", "Sozialamt")
    planner, social_member = make_user("Petra Planung"), make_user("Sam Sozial")
    services.add_department_member(planning, planner)
    services.add_department_member(social, social_member)
    return planner, social_member


def test_a_round_through_the_pages(world, people, browser, rec_in, make_user):
    people(world)
    planner, social_member = _departments(make_user)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"

    admin = browser(world.administrator)
    admin.get(page)
    assert "Ask a department" in admin.text and 'for="department"' in admin.page.text
    # A refusal is shown at its field, and nothing is written.
    events = audit_count()
    admin.post(page + "/statements", {"department": "stadtplanung", "question": "Machbar?", "due_days": "0"}, status=200)
    assert admin.redirected_to == page  # back on the page, which can be reloaded
    assert "A whole number of days, at least 1." in admin.text and 'aria-invalid="true"' in admin.page.text
    assert re.search(r'<textarea[^>]*name="question"[^>]*>\s*Machbar\?</textarea>', admin.page.text)  # kept
    admin.post(page + "/statements", {"department": "bauamt", "question": "", "due_days": "7"}, status=200)
    assert "there is no department &#39;bauamt&#39;" in admin.page.text or "there is no department 'bauamt'" in admin.text
    assert audit_count() == events
    admin.post(page + "/statements", {"department": "stadtplanung", "question": "Machbar?", "due_days": "14"})
    assert "Stadtentwicklungsamt is asked for a statement." in admin.text
    admin.post(page + "/statements", {"department": "sozialamt", "question": "", "due_days": ""})
    statement = db.session.scalars(db.select(Statement).order_by(Statement.id)).first()

    # The member answers; the public then reads the answer, and the decision lists it.
    member_browser = _login(browser, people, planner)
    member_browser.get("/statements")
    assert "Machbar?" in member_browser.text
    member_browser.get(page)
    assert "Answer for your department" in member_browser.text
    member_browser.post(f"/statements/{statement.id}/answer", {f"s{statement.id}-body": "", f"s{statement.id}-visibility": "public"},
                        status=200)
    assert member_browser.redirected_to == page
    assert "A statement needs some text." in member_browser.text
    member_browser.post(f"/statements/{statement.id}/answer",
                        {f"s{statement.id}-body": "Machbar, **mit** Personal.", f"s{statement.id}-visibility": "public"})
    assert "Your department's statement is saved." in member_browser.text
    visitor = browser()
    visitor.get(page)
    assert "Machbar, mit Personal." in visitor.text and "Statements of the departments" in visitor.text

    social_browser = _login(browser, people, social_member)
    other = db.session.scalars(db.select(Statement).where(Statement.id != statement.id)).first()
    social_browser.post(f"/statements/{other.id}/decline", {f"d{other.id}-reason": ""}, status=200)
    assert "Please give a reason." in social_browser.text
    social_browser.post(f"/statements/{other.id}/decline", {f"d{other.id}-reason": "Nicht zuständig."})
    assert "Nicht zuständig." in social_browser.text
    # A member of another department cannot answer.
    assert social_browser.post(f"/statements/{statement.id}/answer",
                               {f"s{statement.id}-body": "x", f"s{statement.id}-visibility": "public"},
                               follow=False).status_code == 403

    admin.get(page)
    admin.post(page + "/transition", {"trigger": "adopt", "version": str(_version(rec)), "note": "Gut so.", "seen": "0", "confirm": "y"})
    assert "The statements it rests on" in admin.text


def _version(rec):
    from app.models import Recommendation
    db.session.expire_all()
    return db.session.get(Recommendation, rec.id).version


def _login(browser, people, user):
    from app.transactions import write_transaction
    from tests.web.browser import PASSWORD
    with write_transaction() as session:
        session.get(type(user), user.id).password_hash = services.hash_password(PASSWORD)
    return browser(user)


def test_the_administration_creates_departments_and_members(world, people, browser):
    people(world)
    admin = browser(world.superuser)
    admin.get("/admin/departments")
    admin.post("/admin/departments", {"slug": "stadtplanung", "name": "Stadtentwicklungsamt"})
    assert "The department “Stadtentwicklungsamt” is created." in admin.text
    admin.post("/admin/departments/stadtplanung", {"user_id": str(world.member.id)})
    assert "is now a member of Stadtentwicklungsamt" in admin.text
    department = db.session.scalars(db.select(Department)).one()
    assert [m.user_id for m in department.members] == [world.member.id]
    events = audit_count()
    admin.post(f"/admin/departments/stadtplanung/members/{world.member.id}/remove", {})
    assert audit_count() == events + 1
    assert db.session.scalars(db.select(DepartmentMember)).all() == []
    # Not for anyone else.
    member = browser(world.member)
    assert member.client.get("/admin/departments").status_code == 403


def test_the_department_queue_pages_overdue_first(world, people, browser, rec_in, make_user, monkeypatch):
    from datetime import timedelta
    from app.models import utcnow
    from app.transactions import write_transaction
    from app.web import statements as statement_pages
    monkeypatch.setattr(statement_pages, "QUEUE_PER_PAGE", 2)
    people(world)
    planner, _social = _departments(make_user)
    recs = [rec_in(world, "steering_review", title=f"Empfehlung {n}") for n in range(3)]
    for rec in recs:
        services.request_statement(rec.id, world.administrator, "stadtplanung", f"Frage {rec.number}", due_days=10)
    with write_transaction() as session:  # the last one asked is overdue
        last = session.scalars(db.select(Statement).order_by(Statement.id.desc())).first()
        last.due_at = utcnow() - timedelta(days=1)
    queue = _login(browser, people, planner)
    queue.get("/statements")
    assert queue.text.index(f"Frage {recs[2].number}") < queue.text.index(f"Frage {recs[0].number}")
    assert f"Frage {recs[1].number}" not in queue.text and "Page 1 of 2" in queue.text
    queue.get("/statements?page=2")
    assert f"Frage {recs[1].number}" in queue.text and f"Frage {recs[0].number}" not in queue.text
    queue.get("/statements?page=x", status=400)


def test_who_loses_the_race_to_answer_keeps_what_they_typed(world, people, browser, rec_in, make_user):
    """Two members of a department answer the same request: the first answer wins; the second person's
    text, refused with 409, is shown on the page to keep, since their form is gone."""
    people(world)
    planner, _social = _departments(make_user)
    colleague = make_user("Carla Kollegin")
    services.add_department_member(db.session.scalars(db.select(Department).filter_by(slug="stadtplanung")).one(), colleague)
    rec = rec_in(world, "steering_review")
    statement = services.request_statement(rec.id, world.administrator, "stadtplanung", "Machbar?")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    late = _login(browser, people, colleague)
    late.get(page)
    services.answer_statement(statement.id, planner, "Machbar bis 2027.")  # the first answer, meanwhile
    events = audit_count()
    late.post(f"/statements/{statement.id}/answer",
              {f"s{statement.id}-body": "Meine lange Stellungnahme zum Vorhaben.", f"s{statement.id}-visibility": "public"})
    assert late.redirected_to == page and audit_count() == events
    assert "Your text was not saved" in late.text and "Meine lange Stellungnahme zum Vorhaben." in late.text
    assert db.session.get(Statement, statement.id).body == "Machbar bis 2027."


def test_a_double_clicked_answer_is_saved_once_and_said_so(world, people, browser, rec_in, make_user):
    people(world)
    planner, _social = _departments(make_user)
    rec = rec_in(world, "steering_review")
    statement = services.request_statement(rec.id, world.administrator, "stadtplanung", "Machbar?")
    member = _login(browser, people, planner)
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    member.get(page)
    form = {f"s{statement.id}-body": "Machbar bis 2027.", f"s{statement.id}-visibility": "public"}
    member.post(f"/statements/{statement.id}/answer", form)
    events = audit_count()
    member.post(f"/statements/{statement.id}/answer", form)  # the second click of a double click
    assert audit_count() == events and "Your department's statement is saved." in member.text
    assert "Your text was not saved" not in member.text
