"""Who is told of each transition of both shipped workflows: written out from the role tables of
tests/api/test_matrix.py, not derived from the code that decides it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Notification
from app.workflow import engine
from tests.api.test_matrix import CASES, MAY_FIRE, ROLES, VISIBLE


@pytest.fixture
def worlds(world, make_user):
    from tests.conftest import build_world
    return {"citizen-recommendation": world,
            "citizen-concern": build_world(make_user, "citizen-concern", "concerns")}


def expected_kinds(workflow_id: str, dest: str, actor_role: str) -> dict[str, str]:
    told = {}
    for role in ROLES:
        if role in ("anonymous", actor_role) or role not in VISIBLE[workflow_id][dest]:
            continue
        if role in ("superuser", "outsider"):
            continue  # no role in the process, following nothing: told of nothing
        if role == "author":
            told[role] = "authored"
        elif any(s == dest and r == role for (s, _t), r in MAY_FIRE[workflow_id].items()):
            told[role] = "your_turn"
    return told


@pytest.mark.parametrize("workflow_id,state,trigger", CASES, ids=[f"{w}:{s}:{t}" for w, s, t in CASES])
def test_who_is_told_of_each_transition(api, worlds, rec_in, workflow_id, state, trigger):
    world = worlds[workflow_id]
    rec = rec_in(world, state)
    actor_role = MAY_FIRE[workflow_id][(state, trigger)]
    last = db.session.scalar(sa.select(sa.func.max(Notification.id))) or 0
    response = api.post(f"/recommendations/{rec.id}/transitions", world.by_role(actor_role),
                        json={"trigger": trigger, "version": rec.version, "note": "Reasons given."})
    assert response.status_code == 200
    dest = engine().get(workflow_id).transition(state, trigger).dest
    told = {user_id: kind for user_id, kind in db.session.execute(
        sa.select(Notification.user_id, Notification.kind).where(Notification.id > last))}
    by_role = {role: told[world.by_role(role).id] for role in ROLES
               if role != "anonymous" and world.by_role(role).id in told}
    assert by_role == expected_kinds(workflow_id, dest, actor_role)
    # and each person's API list shows exactly their own
    for role in ROLES[1:]:
        items = api.get("/notifications", world.by_role(role)).json["items"]
        assert all(item["recommendation"]["id"] in (rec.id,) or item["id"] <= last for item in items)
        assert (role in by_role) == any(item["id"] > last for item in items), role
