"""Sessions, decisions in them, minutes and follow-up through the API, and every role against every new endpoint."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader

from app import audit, services
from app.extensions import db
from app.models import FollowUp, Recommendation, utcnow
from tests.conftest import audit_count
from tests.web.browser import Browser


def _version(rec_id):
    db.session.expire_all()
    return db.session.get(Recommendation, rec_id).version


def test_the_steering_rounds_whole_round(api, app, world, rec_in, make_user):
    """Forward, ask two departments, one answers publicly, one declines, the decision waits until
    both have, then is taken in a session; the minutes close with the chain head, come as a PDF,
    and the follow-up is reported."""
    planning = services.create_department("stadtplanung", "Stadtentwicklungsamt")
    social = services.create_department("sozialamt", "Sozialamt")
    planner, social_member = make_user("Petra Planung"), make_user("Sam Sozial")
    services.add_department_member(planning, planner)
    services.add_department_member(social, social_member)
    rec = rec_in(world, "in_moderation", title="Aushang im Kiez")
    for user in (world.moderator, world.administrator, planner, social_member, world.member):
        api.token(user)
    admin = world.administrator
    assert api.post(f"/recommendations/{rec.id}/transitions", world.moderator,
                    json={"trigger": "forward", "version": rec.version}).status_code == 200
    first = api.post(f"/recommendations/{rec.id}/statements", admin, json={"department": "stadtplanung"}).json
    second = api.post(f"/recommendations/{rec.id}/statements", admin, json={"department": "sozialamt"}).json
    assert api.post(f"/statements/{first['id']}/answer", planner,
                    json={"body": "Machbar mit zwei Aushängen.", "visibility": "public"}).status_code == 200

    session = api.post(f"/processes/{world.process.slug}/sessions", admin,
                       json={"title": "3. Sitzung", "held_at": "2026-03-14T18:30", "place": "Rathaus"})
    assert session.status_code == 201, session.json
    meeting = session.json
    assert meeting["status"] == "open" and meeting["held_at"] == "2026-03-14T18:30" and meeting["items"] == []
    # Not ready while a statement is open; but it can be put on the agenda by hand.
    assert api.post(f"/sessions/{meeting['id']}/agenda/ready", admin, json={}).json["items"] == []
    added = api.post(f"/sessions/{meeting['id']}/agenda", admin, json={"recommendation_id": rec.id})
    assert added.status_code == 201 and added.json["items"][0]["recommendation"]["id"] == rec.id
    decide = {"recommendation_id": rec.id, "trigger": "adopt_in_part",
              "note": "Angenommen: der Aushang. Nicht angenommen: die Zeitungsanzeige.", "version": _version(rec.id)}
    events = audit_count()
    refused = api.post(f"/sessions/{meeting['id']}/decisions", admin, json=decide)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "statements_pending"
    assert "Sozialamt" in refused.json["error"]["message"] and audit_count() == events
    assert api.post(f"/statements/{second['id']}/decline", social_member, json={"reason": "Nicht zuständig."}).status_code == 200

    decided = api.post(f"/sessions/{meeting['id']}/decisions", admin, json={**decide, "version": _version(rec.id)})
    assert decided.status_code == 200, decided.json
    assert decided.json["state"] == "adopted_in_part" and decided.json["decision"]["note"].startswith("Angenommen: der Aushang.")
    again = api.post(f"/sessions/{meeting['id']}/decisions", admin, json={**decide, "version": _version(rec.id)})
    assert again.status_code == 422 and again.json["error"]["code"] == "validation"
    assert api.patch(f"/sessions/{meeting['id']}", admin, json={"participants": "Anna, Ben"}).json["participants"] == "Anna, Ben"

    head = audit.head()
    closed = api.post(f"/sessions/{meeting['id']}/close", admin, json={"notes": "Nächste Sitzung im Mai."})
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    assert closed.json["chain_head"] == f"{head[0]}:{head[1]}"
    item = closed.json["items"][0]
    assert item["decision"]["state"] == "adopted_in_part" and item["decision"]["decided_by"]["id"] == admin.id
    events = audit_count()
    twice = api.post(f"/sessions/{meeting['id']}/close", admin, json={})
    assert twice.status_code == 409 and twice.json["error"]["code"] == "conflict"
    edit = api.patch(f"/sessions/{meeting['id']}", admin, json={"notes": "Nachtrag"})
    assert edit.status_code == 409 and audit_count() == events
    pdf = Browser(app).client.get(closed.json["minutes_pdf_url"].replace("http://ratschlag.test", ""))
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf.data)).pages)
    for expected in ("Aushang im Kiez", "Adopted in part", "Nicht angenommen: die Zeitungsanzeige.",
                     "Stadtentwicklungsamt", "Nächste Sitzung im Mai."):
        assert expected in text, expected

    # Follow-up: the department asked reports; everyone reads it.
    bad = api.post(f"/recommendations/{rec.id}/follow-ups", planner, json={"status": "begun", "body": "x"})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "validation"
    report = api.post(f"/recommendations/{rec.id}/follow-ups", planner,
                      json={"status": "in_progress", "body": "Aushang hängt.", "next_days": 30,
                            "department": "stadtplanung"})
    assert report.status_code == 201 and report.json["department"]["slug"] == "stadtplanung"
    assert api.post(f"/recommendations/{rec.id}/follow-ups", world.member,
                    json={"status": "done", "body": "x"}).status_code == 403
    assert [r["body"] for r in api.get(f"/recommendations/{rec.id}/follow-ups").json["items"]] == ["Aushang hängt."]
    # Its date passes; a newer report answers it: only the newest can be overdue.
    db.session.execute(db.update(FollowUp).values(next_due_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    assert api.get(f"/recommendations/{rec.id}/follow-ups").json["items"][0]["overdue"] is True
    api.post(f"/recommendations/{rec.id}/follow-ups", planner, json={"status": "in_progress", "body": "Läuft.", "next_days": 30})
    assert [r["overdue"] for r in api.get(f"/recommendations/{rec.id}/follow-ups").json["items"]] == [False, False]
    assert audit.verify().ok


def test_bad_session_input_is_refused_and_changes_nothing(api, world, rec_in):
    draft = rec_in(world, "draft")
    api.token(world.administrator)
    events = audit_count()
    for payload in ({"title": "x"}, {"title": "", "held_at": "2026-03-14"}, {"title": "x", "held_at": "morgen"},
                    {"title": "x", "held_at": "2026-03-14", "extra": 1}):
        response = api.post(f"/processes/{world.process.slug}/sessions", world.administrator, json=payload)
        assert response.status_code == 422 and response.json["error"]["code"] == "validation", payload
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-14")
    events = audit_count()
    for payload in ({"recommendation_id": draft.id}, {"recommendation_id": 10_000}, {"recommendation_id": "1"}):
        assert api.post(f"/sessions/{meeting.id}/agenda", world.administrator, json=payload).status_code == 422
    not_on_agenda = api.post(f"/sessions/{meeting.id}/decisions", world.administrator,
                             json={"recommendation_id": draft.id, "trigger": "submit", "version": draft.version})
    assert not_on_agenda.status_code == 422
    assert api.post("/sessions/999/close", world.administrator, json={}).status_code == 404
    assert audit_count() == events


# -- the role matrix -------------------------------------------------------------------

ROLES = ["anonymous", "member", "moderator", "department", "other_administrator", "superuser", "administrator"]


@pytest.fixture
def matrix(world, make_user, rec_in, people):
    people(world)
    from tests.web.browser import PASSWORD
    department_member = make_user("Dora Department", password=PASSWORD)
    planning = services.create_department("stadtplanung", "Stadtentwicklungsamt")
    services.add_department_member(planning, department_member)
    services.grant_role(world.other_process, world.outsider, "administrator")
    rec = rec_in(world, "steering_review", title="Im Matrixtest")
    statement = services.request_statement(rec.id, world.administrator, "stadtplanung")
    services.answer_statement(statement.id, department_member, "Ja.")
    adopted = rec_in(world, "adopted", title="Angenommen")
    users = {"anonymous": None, "member": world.member, "moderator": world.moderator,
             "department": department_member, "other_administrator": world.outsider,
             "superuser": world.superuser, "administrator": world.administrator}
    return world, users, rec, adopted


def test_every_role_against_every_session_endpoint(api, app, matrix):
    world, users, rec, adopted = matrix
    allowed_write = {"administrator"}
    for role in ROLES:
        user = users[role]
        meeting = services.create_session(world.process.id, world.administrator, f"Sitzung {role}", "2026-03-14")
        sid = meeting.id
        may = role in allowed_write
        denied = 401 if user is None else 403
        checks = {
            "api list": (api.get(f"/processes/{world.process.slug}/sessions", user).status_code, 200),
            "api get": (api.get(f"/sessions/{sid}", user).status_code, 200),
            "api create": (api.post(f"/processes/{world.process.slug}/sessions", user,
                                    json={"title": "Neu", "held_at": "2026-04-01"}).status_code, 201 if may else denied),
            "api patch": (api.patch(f"/sessions/{sid}", user, json={"notes": "N"}).status_code, 200 if may else denied),
            "api add": (api.post(f"/sessions/{sid}/agenda", user, json={"recommendation_id": rec.id}).status_code,
                        201 if may else denied),
            "api ready": (api.post(f"/sessions/{sid}/agenda/ready", user, json={}).status_code, 200 if may else denied),
        }
        if not may:
            services.add_to_agenda(sid, world.administrator, rec.id)
        decision = api.post(f"/sessions/{sid}/decisions", user, json={
            "recommendation_id": rec.id, "trigger": "send_back", "note": "Bitte nachbessern.", "version": _version(rec.id)})
        checks["api decide"] = (decision.status_code, 200 if may else denied)
        if may:  # back to the steering round for the next role
            rec_now = services.fire(rec.id, "forward", world.moderator, None, _version(rec.id))
            assert rec_now.state == "steering_review"
        checks["api close"] = (api.post(f"/sessions/{sid}/close", user, json={}).status_code, 200 if may else denied)
        checks["api follow-up list"] = (api.get(f"/recommendations/{adopted.id}/follow-ups", user).status_code, 200)
        wrong = {name: pair for name, pair in checks.items() if pair[0] != pair[1]}
        assert not wrong, (role, wrong)


def test_every_role_against_every_session_page(app, matrix):
    world, users, rec, adopted = matrix
    closed = services.create_session(world.process.id, world.administrator, "Geschlossen", "2026-03-01")
    services.close_session(closed.id, world.administrator)
    for role in ROLES:
        user = users[role]
        meeting = services.create_session(world.process.id, world.administrator, f"Seite {role}", "2026-03-14")
        services.add_to_agenda(meeting.id, world.administrator, rec.id)
        web = Browser(app).login(user) if user is not None else Browser(app)
        web.get("/")
        may = role == "administrator"
        # Forms for the administrators only.
        page = web.client.get(f"/sessions/{meeting.id}")
        assert page.status_code == 200 and ("Close the session" in page.text) == may, role
        denied = 302 if user is None else 403  # anonymous: to the login page
        posts = {
            "create": (f"/processes/{world.process.slug}/sessions", {"title": "Neu", "held_at": "2026-04-01"}),
            "add": (f"/sessions/{meeting.id}/agenda", {"recommendation_id": str(adopted.id)}),
            "ready": (f"/sessions/{meeting.id}/agenda/ready", {}),
            "move": (f"/sessions/{meeting.id}/agenda/{rec.id}/down", {}),
            "minutes": (f"/sessions/{meeting.id}/minutes", {"notes": "N"}),
            "decide": (f"/sessions/{meeting.id}/decide/{rec.id}", {f"i{rec.id}-trigger": "send_back",
                                                                   f"i{rec.id}-note": "x",
                                                                   f"i{rec.id}-version": str(_version(rec.id))}),
            "templates": (f"/processes/{world.process.slug}/answer-templates", {"template-adopted": "T"}),
            "follow-up": (f"/processes/{world.process.slug}/recommendations/{adopted.number}/follow-ups",
                          {"status": "planned", "body": "Plan"}),
            "close": (f"/sessions/{meeting.id}/close", {"confirm": "yes"}),
        }
        gets = {
            "list": (f"/processes/{world.process.slug}/sessions", 200),
            "page": (f"/sessions/{meeting.id}", 200),
            "pdf": (f"/sessions/{closed.id}/minutes.pdf", 200),
            "templates page": (f"/processes/{world.process.slug}/answer-templates", 200 if may else denied),
        }
        wrong = {}
        for name, (url, expected) in gets.items():
            status = web.client.get(url).status_code
            if status != expected:
                wrong[name] = (status, expected)
        for name, (url, data) in posts.items():
            status = web.post(url, data, follow=False).status_code
            expected = (302 if may else denied)
            if name == "follow-up" and role == "department":
                expected = 403  # asked on another recommendation, not this one
            if name == "add" and may:
                expected = 303  # refused (an adopted recommendation waits for no decision), back to the page
            if name in ("create", "decide", "minutes", "templates", "follow-up") and user is None:
                expected = 303  # what was typed is kept and the person sent to sign in (app/web/stash.py)
            if status != expected:
                wrong[name] = (status, expected)
        if may:
            services.fire(rec.id, "forward", world.moderator, None, _version(rec.id))
        assert not wrong, (role, wrong)


def test_the_agenda_is_reordered_and_trimmed_through_the_api(api, world, rec_in):
    first, second = rec_in(world, "steering_review"), rec_in(world, "steering_review")
    admin = world.administrator
    meeting = services.create_session(world.process.id, admin, "Sitzung", "2026-03-14")
    services.add_ready(meeting.id, admin)
    order = lambda answer: [item["recommendation"]["id"] for item in answer.json["items"]]  # noqa: E731
    moved = api.post(f"/sessions/{meeting.id}/agenda/{second.id}/move", admin, json={"by": -1})
    assert moved.status_code == 200 and order(moved) == [second.id, first.id]
    api.token(world.member)  # its creation is an event of its own
    events = audit_count()
    for user, payload, status in ((admin, {"by": 2}, 422), (admin, {}, 422), (world.member, {"by": 1}, 403)):
        assert api.post(f"/sessions/{meeting.id}/agenda/{second.id}/move", user, json=payload).status_code == status
    assert api.request("DELETE", f"/sessions/{meeting.id}/agenda/{first.id}", world.member).status_code == 403
    assert api.request("DELETE", f"/sessions/{meeting.id}/agenda/999", admin).status_code == 422
    assert audit_count() == events
    removed = api.request("DELETE", f"/sessions/{meeting.id}/agenda/{first.id}", admin)
    assert removed.status_code == 200 and order(removed) == [second.id]
    services.close_session(meeting.id, admin)
    closed = api.request("DELETE", f"/sessions/{meeting.id}/agenda/{second.id}", admin)
    assert closed.status_code == 409 and closed.json["error"]["code"] == "conflict"
