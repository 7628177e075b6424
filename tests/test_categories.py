"""Categories routed to departments (docs/workflows.md#categories): an item filed under one is asked
of the category's department when it enters a state that takes statements; a deactivated
department falls back to the process's moderators."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app import services
from app.errors import Forbidden, ValidationError
from app.extensions import db
from app.models import AuditEvent, Notification, Recommendation, Statement
from app.services import categories
from tests.conftest import audit_count


@pytest.fixture
def routed(concern_world, make_user):
    """The concern world with a department (one member) and a category routed to it."""
    department = services.create_department("tiefbau", "Tiefbauamt")
    clerk = make_user("Clara Tiefbau")
    services.add_department_member(department, clerk)
    category = categories.create_category(concern_world.process, "strassen", "Streets", "tiefbau", concern_world.administrator)
    return concern_world, department, clerk, category


def move(world, rec, *steps):
    for trigger, actor in steps:
        rec = services.fire(rec.id, trigger, actor, "Because.", rec.version)
    return rec


def last_event(action: str) -> AuditEvent:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc())).first()


def test_a_categorized_concern_is_asked_of_its_department_and_answered_publicly(routed, api):
    world, department, clerk, category = routed
    rec = services.create_recommendation(world.process.id, world.author, "Pothole", "Deep.", category="strassen")
    assert rec.category_id == category.id
    rec = move(world, rec, ("triage", world.moderator))
    assert db.session.scalars(select(Statement)).all() == []  # triaged takes no statements
    events = audit_count()
    rec = move(world, rec, ("forward", world.moderator))
    assert audit_count() == events + 1  # the request rides in the transition's own event
    statement = db.session.scalars(select(Statement)).one()
    assert (statement.department_id, statement.status, statement.requested_by_id) == (department.id, "requested", world.moderator.id)
    data = json.loads(last_event("recommendation.transitioned").data)
    assert data["routed"]["to"] == "tiefbau" and data["routed"]["statement_id"] == statement.id
    told = db.session.scalars(select(Notification.user_id).where(Notification.statement_id == statement.id)).all()
    assert told == [clerk.id]

    # The department sees the concern in its queue, answers, and the answer is public with it.
    shown = api.get(f"/recommendations/{rec.id}", clerk)
    assert shown.status_code == 200 and shown.json["category"] == {"slug": "strassen", "name": "Streets"}
    services.answer_statement(statement.id, clerk, "Repaired next week.", "public")
    move(world, rec, ("answer", world.administrator))
    public = api.get(f"/recommendations/{rec.id}/statements").json["items"]
    assert [s["body"] for s in public] == ["Repaired next week."]


def test_entering_again_does_not_ask_twice_while_a_request_is_open(routed):
    world, department, _clerk, _category = routed
    rec = services.create_recommendation(world.process.id, world.author, "Pothole", "Deep.", category="strassen")
    rec = move(world, rec, ("triage", world.moderator), ("forward", world.moderator),
               ("return_to_triage", world.administrator), ("forward", world.moderator))
    assert len(db.session.scalars(select(Statement)).all()) == 1


def test_a_deactivated_department_falls_back_to_the_moderators(routed, make_user, people, browser):
    world, department, clerk, category = routed
    second_moderator = make_user("Moritz Moderation")
    services.grant_role(world.process, second_moderator, "moderator")
    assert categories.set_department_active(department, False, world.superuser)
    rec = services.create_recommendation(world.process.id, world.author, "Pothole", "Deep.", category="strassen")
    rec = move(world, rec, ("triage", world.moderator), ("forward", world.moderator))
    assert db.session.scalars(select(Statement)).all() == []  # nobody in the department is asked
    data = json.loads(last_event("recommendation.transitioned").data)
    assert data["routed"] == {"category": "strassen", "to": "moderators"}
    told = set(db.session.scalars(select(Notification.user_id).where(
        Notification.recommendation_id == rec.id, Notification.kind == "your_turn", Notification.data.contains("moderators"))))
    assert told == {second_moderator.id}  # the moderator who forwarded it knows already
    assert clerk.id not in set(db.session.scalars(select(Notification.user_id)))
    # A deactivated department cannot be chosen for a category any more.
    with pytest.raises(ValidationError):
        categories.create_category(world.process, "parks", "Parks", "tiefbau", world.administrator)
    # Renaming the category on its page keeps its route (offered, marked deactivated), which returns with the department.
    people(world)
    admin = browser(world.administrator)
    page = admin.get(f"/processes/{world.process.slug}/categories").text
    assert "Tiefbauamt (deactivated: the moderators answer meanwhile)" in page
    admin.post(f"/processes/{world.process.slug}/categories/strassen",
               {f"c{category.id}-name": "Streets and paths", f"c{category.id}-department": "tiefbau"}, status=200)
    assert "The category Streets and paths is saved." in admin.text
    assert categories.set_department_active(department, True, world.superuser)
    db.session.expire_all()
    assert categories.find_category(world.process.id, "strassen").routed_department.slug == "tiefbau"


def test_categories_need_the_process_administrators_and_bad_input_changes_nothing(routed):
    world, _department, _clerk, category = routed
    events = audit_count()
    for actor in (world.moderator, world.member, world.outsider):
        with pytest.raises(Forbidden):
            categories.create_category(world.process, "parks", "Parks", None, actor)
    for slug, name, department in (("Bad Slug", "Parks", None), ("strassen", "Again", None), ("parks", "", None),
                                   ("parks", "Parks", "nowhere")):
        with pytest.raises(ValidationError):
            categories.create_category(world.process, slug, name, department, world.administrator)
    with pytest.raises(ValidationError):
        services.create_recommendation(world.process.id, world.author, "T", "B", category="nowhere")
    assert audit_count() == events
    assert db.session.scalars(select(Recommendation)).all() == []


def test_recategorizing_is_audited_where_the_workflow_lets_the_author_edit(routed):
    world, _department, _clerk, category = routed
    parks = categories.create_category(world.process, "parks", "Parks", None, world.superuser)
    rec = services.create_recommendation(world.process.id, world.author, "Bench", "Broken.")
    rec = services.update_recommendation(rec.id, world.author, rec.version, category="parks")
    assert rec.category_id == parks.id
    assert json.loads(last_event("recommendation.updated").data) == {"changes": {"category": [None, "parks"]}}
    rec = services.update_recommendation(rec.id, world.author, rec.version, category="strassen")
    assert rec.category_id == category.id
    rec = move(world, rec, ("triage", world.moderator))
    with pytest.raises(Forbidden):  # triaged: nobody edits, so nobody recategorizes
        services.update_recommendation(rec.id, world.author, rec.version, category="parks")


def test_renaming_and_rerouting_a_category(routed):
    world, _department, _clerk, category = routed
    services.create_department("gruen", "Grünflächenamt")
    events = audit_count()
    categories.update_category(category, world.administrator, name="Streets and paths", department="gruen")
    assert audit_count() == events + 1
    assert json.loads(last_event("category.updated").data) == {
        "changes": {"name": ["Streets", "Streets and paths"], "department": ["tiefbau", "gruen"]}}
    categories.update_category(category, world.administrator, name="Streets and paths", department="gruen")
    assert audit_count() == events + 1  # nothing changed, nothing recorded


def test_the_department_and_the_moderators_find_it_in_their_queues(routed, make_user, people, browser):
    world, department, clerk, _category = routed
    people(world)
    from tests.web.browser import PASSWORD
    from app.transactions import write_transaction
    with write_transaction() as session:
        session.get(type(clerk), clerk.id).password_hash = services.hash_password(PASSWORD)
    rec = services.create_recommendation(world.process.id, world.author, "Pothole on Main Street", "Deep.", category="strassen")
    move(world, rec, ("triage", world.moderator), ("forward", world.moderator))
    queue = browser(clerk).get("/statements").text
    assert "Pothole on Main Street" in queue
    page = browser(world.author).get(f"/processes/{world.process.slug}/recommendations/{rec.number}").text
    assert "<dt>Category</dt>" in page and "<dd>Streets</dd>" in page

    # Deactivated: the next concern filed under it waits for the moderators instead.
    categories.set_department_active(department, False, None)
    other = services.create_recommendation(world.process.id, world.author, "Broken lamp", "Dark.", category="strassen")
    move(world, other, ("triage", world.moderator), ("forward", world.moderator))
    moderation = browser(world.moderator).get("/moderation").text
    assert "Routed to you: their category has no active department" in moderation and "Broken lamp" in moderation
    assert "Broken lamp" not in browser(clerk).get("/statements").text
