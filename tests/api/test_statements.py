"""Departments' statements through the API (docs/api.md, "Departments and statements")."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app import audit, services
from app.extensions import db
from app.models import Recommendation, Statement, utcnow
from tests.conftest import audit_count
from tests.test_concurrency import all_at_once, call, server  # noqa: F401  (server is a fixture)


@pytest.fixture
def departments(world, make_user):
    """Two departments with one member each, and a second member of the first."""
    planning = services.create_department("stadtplanung", "Stadtentwicklungsamt")
    social = services.create_department("sozialamt", "Sozialamt")
    people = {"planner": make_user("Petra Planung"), "planner2": make_user("Paul Planung"),
              "social": make_user("Sam Sozial")}
    services.add_department_member(planning, people["planner"])
    services.add_department_member(planning, people["planner2"])
    services.add_department_member(social, people["social"])
    return people


def ask(api, rec, user, department, **extra):
    return api.post(f"/recommendations/{rec.id}/statements", user, json={"department": department, **extra})


def test_departments_are_listed_to_everyone(api, departments):
    assert api.get("/departments").json == {"items": [{"slug": "sozialamt", "name": "Sozialamt"},
                                                      {"slug": "stadtplanung", "name": "Stadtentwicklungsamt"}]}


def test_a_full_round(api, world, rec_in, departments):
    rec = rec_in(world, "in_moderation")
    forwarded = api.post(f"/recommendations/{rec.id}/transitions", world.moderator,
                         json={"trigger": "forward", "version": rec.version}).json
    assert forwarded["state"] == "steering_review"
    for user in (world.administrator, *departments.values()):
        api.token(user)  # tokens are audited too; make them before counting

    events = audit_count()
    first = ask(api, rec, world.administrator, "stadtplanung", question="Ist das umsetzbar?")
    assert first.status_code == 201, first.json
    planning = first.json
    assert planning["status"] == "requested" and planning["department"] == {"slug": "stadtplanung",
                                                                           "name": "Stadtentwicklungsamt"}
    assert planning["question"] == "Ist das umsetzbar?" and planning["requested_by"]["id"] == world.administrator.id
    assert planning["overdue"] is False and planning["visibility"] == "public" and planning["body"] is None
    due = utcnow() + timedelta(days=21)  # the state's due_days
    assert planning["due_at"][:10] == due.strftime("%Y-%m-%d")
    social = ask(api, rec, world.administrator, "sozialamt", due_days=7).json
    assert social["due_at"][:10] == (utcnow() + timedelta(days=7)).strftime("%Y-%m-%d")
    assert audit_count() == events + 2

    # The planners answer publicly: the public reads it, with its Markdown rendered.
    answered = api.post(f"/statements/{planning['id']}/answer", departments["planner"],
                        json={"body": "Machbar, **mit** Personal.", "visibility": "public"})
    assert answered.status_code == 200, answered.json
    assert answered.json["status"] == "answered" and "<strong>mit</strong>" in answered.json["body_html"]
    assert answered.json["answered_by"]["id"] == departments["planner"].id

    # While the social department's request is open, the decision is refused, naming it.
    version = api.get(f"/recommendations/{rec.id}").json["version"]
    events = audit_count()
    refused = api.post(f"/recommendations/{rec.id}/transitions", world.administrator,
                       json={"trigger": "adopt", "note": "Gut so.", "version": version})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "statements_pending"
    assert "Sozialamt" in refused.json["error"]["message"]
    assert "Stadtentwicklungsamt" not in refused.json["error"]["message"]
    # note_required comes first
    no_note = api.post(f"/recommendations/{rec.id}/transitions", world.administrator,
                       json={"trigger": "adopt", "version": version})
    assert no_note.json["error"]["code"] == "note_required"
    assert audit_count() == events
    # send_back does not wait for statements; the page still offers the decision to the administrator
    assert "adopt" in api.get(f"/recommendations/{rec.id}", world.administrator).json["transitions"]

    declined = api.post(f"/statements/{social['id']}/decline", departments["social"], json={"reason": "Nicht zuständig."})
    assert declined.status_code == 200 and declined.json["status"] == "declined"
    assert declined.json["reason"] == "Nicht zuständig."

    adopted = api.post(f"/recommendations/{rec.id}/transitions", world.administrator,
                       json={"trigger": "adopt", "note": "Gut so.", "version": version})
    assert adopted.status_code == 200, adopted.json
    assert adopted.json["decision"]["outcome"] == "adopted"

    listed = api.get(f"/recommendations/{rec.id}/statements").json["items"]
    assert [(s["department"]["slug"], s["status"]) for s in listed] == [("stadtplanung", "answered"),
                                                                        ("sozialamt", "declined")]
    actions = [e["action"] for e in api.get(f"/recommendations/{rec.id}/events").json["items"]]
    assert actions.count("statement.requested") == 2
    assert "statement.answered" in actions and "statement.declined" in actions
    # The department role reads the recommendation in its final state.
    assert api.get(f"/recommendations/{rec.id}", departments["social"]).status_code == 200


def test_internal_answers_stay_with_the_department_and_the_steering_round(api, world, rec_in, departments, make_user):
    rec = rec_in(world, "steering_review")
    statement = ask(api, rec, world.administrator, "stadtplanung").json
    api.post(f"/statements/{statement['id']}/answer", departments["planner"],
             json={"body": "Vertraulich: Haushaltssperre.", "visibility": "internal"})
    readers = {"administrator": world.administrator, "moderator": world.moderator, "planner": departments["planner"]}
    others = {"anonymous": None, "member": world.member, "author": world.author, "social": departments["social"],
              "outsider": world.outsider, "superuser": world.superuser}
    for name, user in readers.items():
        items = api.get(f"/recommendations/{rec.id}/statements", user).json["items"]
        assert [s["body"] for s in items] == ["Vertraulich: Haushaltssperre."], name
    for name, user in others.items():
        assert api.get(f"/recommendations/{rec.id}/statements", user).json["items"] == [], name
        events = api.get(f"/recommendations/{rec.id}/events", user).json["items"]
        answered = [e for e in events if e["action"] == "statement.answered"]
        assert answered and answered[0]["data"] is None, name  # listed, so the chain stays checkable
    events = api.get(f"/recommendations/{rec.id}/events", world.moderator).json["items"]
    assert [e["data"] for e in events if e["action"] == "statement.answered"] == [
        {"body": "Vertraulich: Haushaltssperre.", "visibility": "internal"}]


def test_two_members_answering_at_once_one_wins(server, api, world, rec_in, departments, token):
    """Two members of the department answer the same request at the same moment, through a real
    multi-worker server: one answer is kept, the other is a 409 and leaves nothing."""
    rec = rec_in(world, "steering_review")
    statement = ask(api, rec, world.administrator, "stadtplanung").json
    tokens = [token(departments["planner"]), token(departments["planner2"])]
    events = audit_count()
    db.session.rollback()
    url = f"{server}/statements/{statement['id']}/answer"
    results = all_at_once(2, lambda i: call("POST", url, tokens[i], {"body": f"Antwort {i}", "visibility": "public"}))
    assert sorted(status for status, _body in results) == [200, 409], results
    loser = next(body for status, body in results if status == 409)
    assert loser["error"]["code"] == "conflict"
    winner = next(body for status, body in results if status == 200)
    db.session.rollback()
    assert audit_count() == events + 1
    stored = db.session.get(Statement, statement["id"])
    assert stored.body == winner["body"] and stored.answered_by_id == winner["answered_by"]["id"]
    assert audit.verify().ok


def test_bad_input_is_refused_and_changes_nothing(api, world, rec_in, departments):
    rec = rec_in(world, "steering_review")
    draft = rec_in(world, "in_moderation")
    open_ = ask(api, rec, world.administrator, "stadtplanung").json
    declined = ask(api, rec, world.administrator, "sozialamt").json
    api.post(f"/statements/{declined['id']}/decline", departments["social"], json={"reason": "Keine Zeit."})
    cases = [
        (ask(api, rec, world.administrator, "bauamt"), 422, "validation", "there is no department 'bauamt'"),
        (ask(api, rec, world.administrator, "stadtplanung"), 422, "validation", "has an open request"),
        (ask(api, rec, world.administrator, "sozialamt", due_days=0), 422, "validation", "at least 1"),
        (ask(api, rec, world.administrator, "sozialamt", due_days=-3), 422, "validation", "at least 1"),
        (ask(api, rec, world.administrator, "sozialamt", due_days="morgen"), 422, "validation", "integer"),
        (ask(api, rec, world.moderator, "sozialamt"), 403, "forbidden", "administrator"),
        (ask(api, rec, world.member, "sozialamt"), 403, "forbidden", "administrator"),
        (ask(api, rec, None, "sozialamt"), 401, "unauthorized", ""),
        (ask(api, draft, world.moderator, "sozialamt"), 422, "validation", "no statements are asked for"),
        (ask(api, draft, world.outsider, "sozialamt"), 404, "not_found", ""),
        (api.post(f"/statements/{open_['id']}/decline", departments["planner"], json={"reason": "   "}),
         422, "validation", "reason must not be blank"),
        (api.post(f"/statements/{open_['id']}/decline", departments["planner"], json={}),
         422, "validation", "reason must not be blank"),
        (api.post(f"/statements/{open_['id']}/answer", departments["social"], json={"body": "Fremd"}),
         403, "forbidden", "Stadtentwicklungsamt"),
        (api.post(f"/statements/{open_['id']}/answer", world.administrator, json={"body": "Selbst"}),
         403, "forbidden", ""),
        (api.post(f"/statements/{open_['id']}/answer", departments["planner"], json={"body": " "}),
         422, "validation", "must not be blank"),
        (api.post(f"/statements/{open_['id']}/answer", departments["planner"],
                  json={"body": "x", "visibility": "secret"}), 422, "validation", "visibility"),
        (api.post(f"/statements/{declined['id']}/answer", departments["social"], json={"body": "Doch noch"}),
         409, "conflict", "declined"),
        (api.post(f"/statements/{declined['id']}/decline", departments["social"], json={"reason": "Nochmal"}),
         409, "conflict", "declined"),
        (api.post("/statements/999999/answer", departments["social"], json={"body": "?"}), 404, "not_found", ""),
    ]
    events = audit_count()
    for index, (response, status, code, fragment) in enumerate(cases):
        assert response.status_code == status, (index, response.json)
        assert response.json["error"]["code"] == code, index
        assert fragment in response.json["error"]["message"], (index, response.json)
    # each refusal above was sent before counting; none of them left anything
    assert audit_count() == events
    statuses = {s.department.slug: s.status for s in db.session.query(Statement).all()}
    assert statuses == {"stadtplanung": "requested", "sozialamt": "declined"}


def test_refusals_leave_no_audit_event(api, world, rec_in, departments):
    """The same refusals, counted one by one."""
    rec = rec_in(world, "steering_review")
    open_ = ask(api, rec, world.administrator, "stadtplanung").json
    for user in (world.administrator, departments["planner"], departments["social"]):
        api.token(user)
    events = audit_count()
    assert ask(api, rec, world.administrator, "bauamt").status_code == 422
    assert ask(api, rec, world.administrator, "stadtplanung").status_code == 422
    assert ask(api, rec, world.administrator, "sozialamt", due_days=0).status_code == 422
    assert api.post(f"/statements/{open_['id']}/decline", departments["planner"], json={"reason": ""}).status_code == 422
    assert api.post(f"/statements/{open_['id']}/answer", departments["social"], json={"body": "x"}).status_code == 403
    assert audit_count() == events
    db.session.expire_all()
    assert db.session.get(Recommendation, rec.id).version == rec.version


def test_the_department_role_follows_the_request(api, world, rec_in, departments, make_user):
    """Only members of an asked department hold the role; it reaches lists and the role lookup."""
    rec = rec_in(world, "steering_review")
    from app.roles import roles_for
    assert "department" not in roles_for(departments["planner"], rec)
    ask(api, rec, world.administrator, "stadtplanung")
    assert "department" in roles_for(departments["planner"], rec)
    assert "department" not in roles_for(departments["social"], rec)
    assert "department" not in roles_for(world.administrator, rec)



def test_a_deactivated_department_is_asked_nothing(api, world, rec_in, departments):
    """Found by the review of issue 14: a deactivated department (nobody answers) could be asked, and
    the decision then waited on it for good. Now 422, nothing is written, and the page does not offer it."""
    from app.services.categories import set_department_active
    set_department_active(services.find_department("sozialamt"), False, None)
    rec = rec_in(world, "steering_review")
    api.get("/departments", world.administrator)  # the administrator's token is made (and audited) first
    events = audit_count()
    answer = ask(api, rec, world.administrator, "sozialamt")
    assert answer.status_code == 422 and "deactivated" in answer.json["error"]["message"]
    assert audit_count() == events and db.session.query(Statement).count() == 0
    assert ask(api, rec, world.administrator, "stadtplanung").status_code == 201
