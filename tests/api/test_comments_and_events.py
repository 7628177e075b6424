"""Comments, hiding, the events endpoint, and the OpenAPI document."""
from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from app import audit
from app.api.openapi import document
from tests.conftest import audit_count


@pytest.fixture
def thread(api, world, rec_in):
    """A public recommendation with a reply, an internal note and a hidden comment."""
    rec = rec_in(world, "steering_review")
    base = f"/recommendations/{rec.id}/comments"
    first = api.post(base, world.member, json={"body": "Where will it be?"}).json
    reply = api.post(base, world.author, json={"body": "In the *district*.", "parent_id": first["id"]}).json
    internal = api.post(base, world.moderator, json={"body": "Staff needed.", "visibility": "internal"}).json
    rude = api.post(base, world.member, json={"body": "Rubbish!!!"}).json
    hidden = api.post(f"/comments/{rude['id']}/hide", world.moderator, json={"reason": "Stay civil (rule 2)."})
    assert hidden.status_code == 200
    return rec, first, reply, internal, rude


def bodies(api, rec_id, user):
    return {c["id"]: c["body"] for c in api.get(f"/recommendations/{rec_id}/comments", user).json["items"]}


def test_comment_shapes_and_threading(api, world, thread):
    rec, first, reply, internal, rude = thread
    assert reply["parent_id"] == first["id"]
    assert reply["body_html"] == "<p>In the <em>district</em>.</p>"
    assert reply["author"] == {"id": world.author.id, "name": world.author.name}
    assert (reply["visibility"], reply["hidden"], reply["hidden_reason"]) == ("public", False, None)
    assert internal["visibility"] == "internal"


def test_who_reads_what(api, world, thread):
    rec, first, reply, internal, rude = thread
    # anonymous visitors and members: public comments, the hidden one without its text
    for user in (None, world.member, world.superuser):
        seen = bodies(api, rec.id, user)
        assert seen == {first["id"]: "Where will it be?", reply["id"]: "In the *district*.", rude["id"]: None}
    items = api.get(f"/recommendations/{rec.id}/comments").json["items"]
    hidden = next(c for c in items if c["id"] == rude["id"])
    assert hidden["hidden"] and hidden["hidden_reason"] == "Stay civil (rule 2)." and hidden["body_html"] is None
    # administrators: internal notes too, but not the hidden text
    assert bodies(api, rec.id, world.administrator) == {
        first["id"]: "Where will it be?", reply["id"]: "In the *district*.",
        internal["id"]: "Staff needed.", rude["id"]: None}
    # moderators: everything
    assert bodies(api, rec.id, world.moderator)[rude["id"]] == "Rubbish!!!"


def test_who_may_write_comments(api, world, rec_in):
    rec = rec_in(world, "steering_review")
    path = f"/recommendations/{rec.id}/comments"
    for user in (world.author, world.member, world.moderator, world.administrator):
        assert api.post(path, user, json={"body": "Yes."}).status_code == 201
    for user in (world.outsider, world.superuser):
        assert api.post(path, user, json={"body": "Hi"}).json["error"]["code"] == "forbidden"
    assert api.post(path, None, json={"body": "Hi"}).status_code == 401
    for user in (world.author, world.member):
        assert api.post(path, user, json={"body": "Psst", "visibility": "internal"}).status_code == 403
    assert api.post(path, world.administrator, json={"body": "Note", "visibility": "internal"}).status_code == 201
    # a recommendation the caller cannot see is not found, even to comment on
    draft = rec_in(world, "draft")
    assert api.post(f"/recommendations/{draft.id}/comments", world.member, json={"body": "x"}).status_code == 404


def test_invalid_comments_change_nothing(api, world, rec_in, thread):
    rec, first, reply, internal, rude = thread
    other = rec_in(world, "steering_review", title="Other")
    path = f"/recommendations/{rec.id}/comments"
    for user in (world.member, world.moderator):
        api.token(user)
    events = audit_count()
    cases = [
        (world.member, {"body": "  "}, "body must not be blank"),
        (world.member, {"body": "x", "visibility": "secret"}, "visibility must be"),
        (world.member, {"body": "x", "parent_id": 99999}, "there is no comment 99999"),
        (world.member, {"body": "x", "parent_id": internal["id"]}, f"there is no comment {internal['id']}"),
        (world.moderator, {"body": "x", "parent_id": internal["id"]}, "internal too"),
        (world.member, {"body": "x", "parent_id": "1"}, "'parent_id' must be an integer"),
        (world.member, {"body": "x" * 20_001}, "longer than"),
    ]
    for user, body, fragment in cases:
        response = api.post(path, user, json=body)
        assert response.status_code == 422 and fragment in response.json["error"]["message"], (body, response.json)
    response = api.post(f"/recommendations/{other.id}/comments", world.member, json={"body": "x", "parent_id": first["id"]})
    assert response.status_code == 422
    assert audit_count() == events


def test_hiding_errors(api, world, thread):
    rec, first, reply, internal, rude = thread
    for user in (world.member, world.administrator, world.moderator):
        api.token(user)
    events = audit_count()
    assert api.post(f"/comments/{first['id']}/hide", world.member, json={"reason": "no"}).status_code == 403
    assert api.post(f"/comments/{first['id']}/hide", world.administrator, json={"reason": "no"}).status_code == 403
    assert api.post(f"/comments/{first['id']}/hide", None, json={"reason": "no"}).status_code == 401
    response = api.post(f"/comments/{first['id']}/hide", world.moderator, json={"reason": "   "})
    assert response.status_code == 422 and response.json["error"]["code"] == "validation"
    assert api.post(f"/comments/{first['id']}/hide", world.moderator, json={}).status_code == 422
    assert api.post(f"/comments/{rude['id']}/hide", world.moderator, json={"reason": "again"}).status_code == 422
    assert api.post(f"/comments/{internal['id']}/hide", world.member, json={"reason": "x"}).status_code == 404
    assert api.post("/comments/99999/hide", world.moderator, json={"reason": "x"}).status_code == 404
    assert audit_count() == events
    assert bodies(api, rec.id, None)[first["id"]] == "Where will it be?"


def test_events_tell_the_story_and_keep_secrets(api, world, thread):
    rec, first, reply, internal, rude = thread
    events = api.get(f"/recommendations/{rec.id}/events").json["items"]
    actions = [e["action"] for e in events]
    assert actions[0] == "recommendation.created"
    assert actions.count("recommendation.transitioned") == 3
    assert actions[-5:] == ["comment.created"] * 4 + ["comment.hidden"]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    by_subject = {(e["subject_id"], e["action"]): e for e in events if e["subject_type"] == "comment"}
    # the anonymous visitor sees that an internal note and a hidden comment exist, not what they say
    assert by_subject[(internal["id"], "comment.created")]["data"] is None
    assert by_subject[(rude["id"], "comment.created")]["data"] is None
    assert by_subject[(rude["id"], "comment.hidden")]["data"] == {"reason": "Stay civil (rule 2)."}
    assert by_subject[(first["id"], "comment.created")]["data"] == {
        "body": "Where will it be?", "visibility": "public", "parent_id": None}
    assert by_subject[(first["id"], "comment.created")]["actor"] == {"id": world.member.id, "name": world.member.name}
    moderator_view = {(e["subject_id"], e["action"]): e for e in
                      api.get(f"/recommendations/{rec.id}/events", world.moderator).json["items"]}
    assert moderator_view[(rude["id"], "comment.created")]["data"]["body"] == "Rubbish!!!"
    assert moderator_view[(internal["id"], "comment.created")]["data"]["body"] == "Staff needed."
    admin_view = {(e["subject_id"], e["action"]): e for e in
                  api.get(f"/recommendations/{rec.id}/events", world.administrator).json["items"]}
    assert admin_view[(internal["id"], "comment.created")]["data"]["body"] == "Staff needed."
    assert admin_view[(rude["id"], "comment.created")]["data"] is None
    # data and salt go together; the digest and the hashes are there for everyone, and check
    for event in events + list(moderator_view.values()):
        assert (event["data"] is None) == (event["salt"] is None) and event["v"] == 2
        assert audit.event_hash(event) == event["hash"]
        if event["data"] is not None:
            assert audit.digest_data(event["salt"], audit.canonical_data(event["data"])) == event["data_digest"]


def test_only_moderators_know_of_reports_and_who_made_them(api, world, thread):
    from app import services
    rec, first, *_rest = thread
    report = services.report_comment(first["id"], world.author, "Off topic")
    services.dismiss_report(report.id, world.moderator)
    for user in (None, world.member, world.author, world.administrator, world.superuser):
        events = [e for e in api.get(f"/recommendations/{rec.id}/events", user).json["items"]
                  if e["action"] in ("comment.reported", "comment.report_dismissed")]
        assert len(events) == 2
        for event in events:
            assert (event["actor_id"], event["actor"], event["data"], event["salt"]) == (None, None, None, None)
            assert len(event["data_digest"]) == 64
        # The report has no actor at all (its reporter is in the salted payload), so anyone can
        # recompute its hash; the dismissal's actor is withheld, so it is taken as given.
        assert [e.get("withheld", False) for e in events] == [False, True]
    reported, dismissed = [e for e in api.get(f"/recommendations/{rec.id}/events", world.moderator).json["items"]
                           if e["action"] in ("comment.reported", "comment.report_dismissed")]
    assert reported["actor"] == {"id": world.author.id, "name": world.author.name}
    assert reported["data"] == {"comment_id": first["id"], "reason": "Off topic", "user_id": world.author.id}
    assert "withheld" not in reported and reported["actor_id"] is None
    assert dismissed["actor_id"] == world.moderator.id


def test_every_write_appends_exactly_one_event(api, world, rec_in):
    rec = rec_in(world, "draft")
    api.token(world.author)
    api.token(world.moderator)
    count = audit_count()
    version = api.patch(f"/recommendations/{rec.id}", world.author, json={"title": "T2", "version": rec.version}).json["version"]
    assert audit_count() == count + 1
    api.post(f"/recommendations/{rec.id}/transitions", world.author, json={"trigger": "submit", "version": version})
    assert audit_count() == count + 2
    comment = api.post(f"/recommendations/{rec.id}/comments", world.author, json={"body": "c"}).json
    assert audit_count() == count + 3
    api.post(f"/comments/{comment['id']}/hide", world.moderator, json={"reason": "r"})
    assert audit_count() == count + 4
    api.post(f"/processes/{world.process.slug}/recommendations", world.author, json={"title": "t", "body": "b"})
    assert audit_count() == count + 5


def test_the_openapi_document_is_valid_and_covers_every_route(client, app):
    served = client.get("/api/v1/openapi.json").json
    assert served == document()
    validate(served)
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule.removeprefix("/api/v1")
            path = path.replace("<id:rec_id>", "{id}").replace("<id:comment_id>", "{id}").replace("<id:statement_id>", "{id}")
            path = path.replace("<id:session_id>", "{id}").replace("<id:recommendation_id>", "{rec_id}")
            path = path.replace("<workflow_id>", "{id}").replace("<slug>", "{slug}").replace("<category_slug>", "{category}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((method.lower(), path))
    documented = {(method, path) for path, ops in served["paths"].items() for method in ops}
    assert routes == documented
