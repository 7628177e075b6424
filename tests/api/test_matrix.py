"""Every role against every transition and every state of both shipped workflows.

The expectations are written out here, not derived from the workflow files, so
that a change to who may see or do what in a shipped workflow fails a test.
"""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Recommendation
from app.workflow import engine
from tests.conftest import audit_count

ROLES = ["anonymous", "superuser", "outsider", "member", "author", "moderator", "administrator"]
EVERYONE = set(ROLES)
GROUP = {"author", "member", "moderator"}  # the author is a member of the process too

VISIBLE = {
    "citizen-recommendation": {
        "draft": {"author", "moderator"},
        "submitted": GROUP, "in_moderation": GROUP,
        "steering_review": EVERYONE, "adopted": EVERYONE, "adopted_in_part": EVERYONE, "rejected": EVERYONE,
        "withdrawn": GROUP,
    },
    "citizen-concern": {
        "received": {"author", "moderator", "administrator"},
        "triaged": {"author", "moderator", "administrator"},
        "forwarded": {"author", "moderator", "administrator"},
        "answered": EVERYONE,
        "declined": {"author", "moderator", "administrator"},
    },
}

MAY_FIRE = {
    "citizen-recommendation": {
        ("draft", "submit"): "author", ("draft", "withdraw"): "author",
        ("submitted", "start_moderation"): "moderator", ("submitted", "withdraw"): "author",
        ("in_moderation", "return_to_authors"): "moderator", ("in_moderation", "forward"): "moderator",
        ("in_moderation", "withdraw"): "author",
        ("steering_review", "adopt"): "administrator", ("steering_review", "adopt_in_part"): "administrator",
        ("steering_review", "reject"): "administrator", ("steering_review", "send_back"): "administrator",
    },
    "citizen-concern": {
        ("received", "triage"): "moderator", ("received", "decline"): "moderator",
        ("triaged", "forward"): "moderator", ("triaged", "decline"): "moderator",
        ("forwarded", "answer"): "administrator", ("forwarded", "decline"): "administrator",
        ("forwarded", "return_to_triage"): "administrator",
    },
}

CASES = [(wf, state, trigger) for wf, table in MAY_FIRE.items() for (state, trigger) in table]


def test_the_tables_cover_every_state_and_transition(app):
    for workflow_id in ("citizen-recommendation", "citizen-concern"):
        workflow = engine().get(workflow_id)
        assert set(VISIBLE[workflow_id]) == set(workflow.states)
        declared = {(s, t.trigger) for t in workflow.transitions for s in t.sources}
        assert declared == set(MAY_FIRE[workflow_id])


@pytest.fixture
def worlds(world, make_user):
    from tests.conftest import build_world
    return {"citizen-recommendation": world,
            "citizen-concern": build_world(make_user, "citizen-concern", "concerns")}


@pytest.mark.parametrize("workflow_id,state,trigger", CASES, ids=[f"{w}:{s}:{t}" for w, s, t in CASES])
def test_role_matrix(api, worlds, rec_in, workflow_id, state, trigger):
    world = worlds[workflow_id]
    rec = rec_in(world, state)
    allowed = MAY_FIRE[workflow_id][(state, trigger)]
    payload = {"trigger": trigger, "version": rec.version, "note": "Reasons given."}
    for role in ROLES[1:]:
        api.token(world.by_role(role))  # tokens are audited too; make them before counting
    events = audit_count()
    for role in ROLES:
        if role == allowed:
            continue
        response = api.post(f"/recommendations/{rec.id}/transitions", world.by_role(role), json=payload)
        expected = 401 if role == "anonymous" else 403 if role in VISIBLE[workflow_id][state] else 404
        assert response.status_code == expected, (role, response.json)
        db.session.expire_all()
        assert db.session.get(Recommendation, rec.id).state == state
    assert audit_count() == events
    response = api.post(f"/recommendations/{rec.id}/transitions", world.by_role(allowed), json=payload)
    assert response.status_code == 200, response.json
    dest = engine().get(workflow_id).transition(state, trigger).dest
    assert response.json["state"] == dest
    assert audit_count() == events + 1


STATES = [(wf, state) for wf, table in VISIBLE.items() for state in table]


@pytest.mark.parametrize("workflow_id,state", STATES, ids=[f"{w}:{s}" for w, s in STATES])
def test_visibility_matrix(api, worlds, rec_in, workflow_id, state):
    world = worlds[workflow_id]
    rec = rec_in(world, state)
    for role in ROLES:
        user = world.by_role(role)
        visible = role in VISIBLE[workflow_id][state]
        response = api.get(f"/recommendations/{rec.id}", user)
        assert response.status_code == (200 if visible else 404), role
        listed = api.get(f"/processes/{world.process.slug}/recommendations", user).json["items"]
        assert [item["id"] for item in listed] == ([rec.id] if visible else []), role
        for path in (f"/recommendations/{rec.id}/comments", f"/recommendations/{rec.id}/events"):
            assert api.get(path, user).status_code == (200 if visible else 404), (role, path)
        if visible:
            allowed = [t for (s, t), r in MAY_FIRE[workflow_id].items() if s == state and r == role]
            assert response.json["transitions"] == allowed, role


def test_the_department_role_in_the_shipped_workflow(api, world, rec_in, make_user):
    """An asked department's members read the recommendation in the steering round and its final
    states (and lists show it there), fire nothing, and lose sight of it when it is sent back;
    members of another department hold no role on it."""
    from app import services
    asked, other = make_user("Asked"), make_user("Other")
    services.add_department_member(services.create_department("asked", "Asked"), asked)
    services.add_department_member(services.create_department("other", "Other"), other)
    rec = rec_in(world, "steering_review")
    statement = services.request_statement(rec.id, world.administrator, "asked")
    seen = api.get(f"/recommendations/{rec.id}", asked).json
    assert seen["transitions"] == []
    assert api.get(f"/recommendations/{rec.id}/statements", other).json["items"][0]["id"] == statement.id
    assert api.post(f"/statements/{statement.id}/answer", other, json={"body": "x"}).status_code == 403
    back = api.post(f"/recommendations/{rec.id}/transitions", world.administrator,
                    json={"trigger": "send_back", "note": "Noch einmal.", "version": rec.version}).json
    assert back["state"] == "in_moderation"
    for user in (asked, other):
        assert api.get(f"/recommendations/{rec.id}", user).status_code == 404
        assert api.get(f"/processes/{world.process.slug}/recommendations", user).json["items"] == []
