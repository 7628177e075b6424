"""The recommendation endpoints: shapes, writes, and every error code of docs/api.md."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Recommendation, RecommendationRevision
from app.services.validation import BODY_MAX
from tests.conftest import audit_count


def last_event() -> AuditEvent:
    return db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()


def test_create_answers_the_recommendation_in_the_initial_state(api, world):
    response = api.post(f"/processes/{world.process.slug}/recommendations", world.author,
                        json={"title": "  Leichte Sprache  ", "body": "Einladungen in *Leichter Sprache*."})
    assert response.status_code == 201
    rec = response.json
    assert rec["state"] == "draft" and rec["state_label"] == "Draft"
    assert rec["title"] == "Leichte Sprache"
    assert rec["body_html"] == "<p>Einladungen in <em>Leichter Sprache</em>.</p>"
    assert rec["authors"] == [{"id": world.author.id, "name": world.author.name}]
    assert rec["number"] == 1 and rec["version"] == 1 and rec["decision"] is None and rec["due_at"] is None
    assert rec["transitions"] == ["submit", "withdraw"]
    assert rec["html_url"] == f"http://ratschlag.test/processes/{world.process.slug}/recommendations/1"
    assert rec["created_at"].endswith("Z")
    event = last_event()
    assert (event.action, event.subject_type, event.subject_id, event.actor_id) == (
        "recommendation.created", "recommendation", rec["id"], world.author.id)
    second = api.post(f"/processes/{world.process.slug}/recommendations", world.member,
                      json={"title": "Zweite", "body": "Text"})
    assert second.json["number"] == 2


def test_state_labels_follow_the_request_language(api, world, rec_in):
    rec = rec_in(world, "steering_review")
    german = api.get(f"/recommendations/{rec.id}", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert german.json["state_label"] == "In der Steuerungsrunde"
    assert api.get(f"/recommendations/{rec.id}").json["state_label"] == "Steering round review"


def test_only_process_roles_may_create(api, world):
    path = f"/processes/{world.process.slug}/recommendations"
    body = {"title": "T", "body": "B"}
    assert api.post(path, None, json=body).status_code == 401
    for user in (world.outsider, world.superuser):
        response = api.post(path, user, json=body)
        assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    for user in (world.member, world.moderator, world.administrator):
        assert api.post(path, user, json=body).status_code == 201
    assert api.post("/processes/nope/recommendations", world.member, json=body).status_code == 404


def test_invalid_create_input_changes_nothing(api, world):
    path = f"/processes/{world.process.slug}/recommendations"
    api.token(world.member)
    events = audit_count()
    for body, fragment in [
        ({"title": "", "body": "B"}, "title must not be blank"),
        ({"title": "T"}, "'body' is required"),
        ({"title": 5, "body": "B"}, "'title' must be a string"),
        ({"title": "x" * 201, "body": "B"}, "longer than 200"),
        ({"title": "x\r\n" * 150, "body": "B"}, "title must be a single line"),  # 300 characters as counted
        ({"title": "T", "body": "x" * (BODY_MAX + 1)}, f"body is longer than {BODY_MAX}"),
        ({"title": "T", "body": "x\r\n" * (BODY_MAX // 2) + "x"}, f"body is longer than {BODY_MAX}"),
        ({"title": "T", "body": "B", "state": "adopted"}, "unknown field 'state'"),
        (["title", "body"], "must be a JSON object"),
    ]:
        response = api.post(path, world.member, json=body)
        assert response.status_code == 422, body
        assert response.json["error"]["code"] == "validation"
        assert fragment in response.json["error"]["message"], response.json
    assert audit_count() == events
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recommendation)) == 0


def test_a_body_at_the_limit_is_taken_line_breaks_counted_as_one(api, world):
    """6,000 characters as a person counts them: CRLF line breaks (what a browser sends) are one each."""
    path = f"/processes/{world.process.slug}/recommendations"
    body = "- point\r\n" * (BODY_MAX // 8)  # 8 characters a line as counted, 9 as stored
    assert len(body) > BODY_MAX and len(body.replace("\r\n", "\n")) <= BODY_MAX
    response = api.post(path, world.member, json={"title": "Long", "body": body})
    assert response.status_code == 201, response.json
    assert response.json["body"] == body.strip() and response.json["body_html"].count("<li>") == BODY_MAX // 8


def test_malformed_json_is_a_bad_request(api, world, rec_in):
    rec = rec_in(world, "draft")
    for data in ("{not json", b"\xff\xfe{}", "[" * 100_000):
        response = api.request("POST", f"/recommendations/{rec.id}/transitions", world.author, data=data)
        assert response.status_code == 400
        assert response.json["error"]["code"] == "bad_request"


def test_bodies_over_one_mebibyte_get_413(api, world):
    body = '{"title": "T", "body": "' + "x" * (1024 * 1024) + '"}'
    response = api.request("POST", f"/processes/{world.process.slug}/recommendations", world.member, data=body)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recommendation)) == 0


def test_tokens_are_checked(api, world, client):
    path = f"/processes/{world.process.slug}/recommendations"
    for header in ("Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer "):
        response = client.post(f"/api/v1{path}", json={"title": "T", "body": "B"}, headers={"Authorization": header})
        assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    # a read with a bad token is refused too, not silently anonymous
    assert client.get(f"/api/v1{path}", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_a_session_cookie_never_authorizes_an_api_write(app, world):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(world.member.id)
        session["_fresh"] = True
    response = client.post(f"/api/v1/processes/{world.process.slug}/recommendations", json={"title": "T", "body": "B"})
    assert response.status_code == 401


def test_patch_edits_and_keeps_the_previous_text(api, world, rec_in):
    rec = rec_in(world, "draft")
    version, title = rec.version, rec.title
    response = api.patch(f"/recommendations/{rec.id}", world.author,
                         json={"body": "Acht Wochen **vorher**.", "version": version})
    assert response.status_code == 200
    assert response.json["body_html"] == "<p>Acht Wochen <strong>vorher</strong>.</p>"
    assert response.json["version"] == version + 1
    assert response.json["title"] == title
    revisions = db.session.scalars(sa.select(RecommendationRevision).where(
        RecommendationRevision.recommendation_id == rec.id).order_by(RecommendationRevision.revision)).all()
    assert [r.body for r in revisions] == ["Six weeks **ahead**.", "Acht Wochen **vorher**."]
    event = last_event()
    assert event.action == "recommendation.updated"
    assert '"changes":{"body":["Six weeks **ahead**.","Acht Wochen **vorher**."]}' in event.data


def test_patch_errors(api, world, rec_in):
    rec = rec_in(world, "draft")
    path = f"/recommendations/{rec.id}"
    for user in (world.author, world.moderator, world.member):
        api.token(user)
    events = audit_count()
    assert api.patch(path, world.author, json={"title": "New", "version": rec.version + 5}).status_code == 409
    assert api.patch(path, world.moderator, json={"title": "New", "version": rec.version}).status_code == 403
    assert api.patch(path, world.member, json={"title": "New", "version": rec.version}).status_code == 404
    assert api.patch(path, world.author, json={"title": "New"}).json["error"]["message"] == "'version' is required"
    assert api.patch(path, world.author, json={"title": " ", "version": rec.version}).status_code == 422
    assert api.patch(path, world.author, json={"version": rec.version}).status_code == 422
    assert api.patch(path, None, json={"title": "New", "version": rec.version}).status_code == 401
    assert api.patch(path, world.author, json={"title": "New", "version": True}).status_code == 422
    assert audit_count() == events
    # once submitted, nobody may edit
    rec = rec_in(world, "submitted")
    response = api.patch(f"/recommendations/{rec.id}", world.author, json={"title": "Later", "version": rec.version})
    assert response.status_code == 403


def test_the_same_text_again_changes_nothing(api, world, rec_in):
    rec = rec_in(world, "draft")
    api.token(world.author)
    events, version = audit_count(), rec.version
    response = api.patch(f"/recommendations/{rec.id}", world.author, json={"title": rec.title, "version": version})
    assert response.status_code == 200 and response.json["version"] == version
    assert audit_count() == events


def test_transition_error_codes(api, world, rec_in):
    rec = rec_in(world, "steering_review")
    path = f"/recommendations/{rec.id}/transitions"

    def post(user, **body):
        return api.post(path, user, json={"version": rec.version, **body})
    assert post(world.administrator, trigger="adopt", version=rec.version - 1).json["error"]["code"] == "conflict"
    assert post(world.administrator, trigger="launch").json["error"]["code"] == "invalid_transition"
    assert post(world.administrator, trigger="submit").json["error"]["code"] == "invalid_transition"
    assert post(world.moderator, trigger="adopt").json["error"]["code"] == "forbidden"
    response = post(world.administrator, trigger="adopt")
    assert response.status_code == 422 and response.json["error"]["code"] == "note_required"
    assert post(world.administrator, trigger="adopt", note=7).json["error"]["code"] == "validation"
    assert post(world.administrator, note="x").json["error"]["message"] == "'trigger' is required"
    response = post(world.administrator, trigger="adopt", note="Adopted: the list goes online.")
    assert response.status_code == 200
    assert response.json["decision"]["outcome"] == "adopted"
    assert response.json["decision"]["note"] == "Adopted: the list goes online."
    assert response.json["decision"]["decided_by"] == {"id": world.administrator.id, "name": world.administrator.name}
    assert response.json["transitions"] == []
    public = api.get(f"/recommendations/{rec.id}").json
    assert public["decision"]["note"] == "Adopted: the list goes online."


def test_list_filters_pages_and_validates(api, world, rec_in):
    for state in ("draft", "steering_review", "steering_review", "adopted"):
        rec_in(world, state)
    path = f"/processes/{world.process.slug}/recommendations"
    anonymous = api.get(path).json
    assert anonymous["total"] == 3 and [i["state"] for i in anonymous["items"]] == ["steering_review", "steering_review", "adopted"]
    filtered = api.get(f"{path}?state=adopted").json
    assert filtered["total"] == 1 and filtered["items"][0]["number"] == 4
    page = api.get(f"{path}?per_page=2&page=2", world.author).json
    assert (page["total"], page["page"], page["per_page"], [i["number"] for i in page["items"]]) == (4, 2, 2, [3, 4])
    assert api.get(f"{path}?page=99").json["items"] == []
    for query in ("per_page=101", "per_page=0", "page=0", "page=-1", "page=abc", "state=nirvana", "page=1e9"):
        response = api.get(f"{path}?{query}")
        assert response.status_code == 422, query
        assert response.json["error"]["code"] == "validation"
    assert api.get("/processes/nope/recommendations").status_code == 404


def test_get_unknown_or_hidden_recommendation_is_not_found(api, world, rec_in):
    rec = rec_in(world, "draft")
    assert api.get(f"/recommendations/{rec.id}").status_code == 404
    assert api.get(f"/recommendations/{rec.id + 99}", world.author).status_code == 404
    assert api.get("/no/such/endpoint", check=False).json["error"]["code"] == "not_found"
    response = api.request("DELETE", f"/recommendations/{rec.id}", world.author, check=False)
    assert response.status_code == 405 and response.json["error"]["code"] == "method_not_allowed"


def test_processes_are_listed_to_everyone(api, world):
    items = api.get("/processes").json["items"]
    # The contract's three fields stay as they were; the overview of procedures adds its own beside them.
    assert {"slug": world.process.slug, "title": "Participation guidelines", "workflow": "citizen-recommendation"} in \
        [{key: item[key] for key in ("slug", "title", "workflow")} for item in items]


def test_workflow_endpoint(api, app):
    body = api.get("/workflows/citizen-recommendation").json
    assert body["id"] == "citizen-recommendation" and body["initial"] == "draft"
    assert {"name": "adopted", "label": "Adopted", "final": True, "outcome": "adopted"} in body["states"]
    assert {"trigger": "withdraw", "source": ["draft", "submitted", "in_moderation"], "dest": "withdrawn",
            "roles": ["author"], "requires": []} in body["transitions"]
    assert api.get("/workflows/nope").status_code == 404


def test_co_authors_act_as_authors(api, world, rec_in, make_user):
    from app import services
    rec = rec_in(world, "draft")
    services.add_author(rec.id, world.author, world.coauthor)
    body = api.get(f"/recommendations/{rec.id}", world.coauthor).json
    assert [a["id"] for a in body["authors"]] == [world.author.id, world.coauthor.id]
    assert body["transitions"] == ["submit", "withdraw"]
    assert api.patch(f"/recommendations/{rec.id}", world.coauthor,
                     json={"title": "Co-written", "version": body["version"]}).status_code == 200
