"""Every role against every state of both shipped workflows, on every page and write, and guessed ids."""
from __future__ import annotations

import pytest

from app import services
from tests.api.test_matrix import ROLES, VISIBLE
from tests.conftest import build_world
from tests.web.browser import Browser

EDITABLE = {"citizen-recommendation": {"draft": {"author"}}, "citizen-concern": {"received": {"author"}}}
COMMENTERS = {"member", "author", "moderator", "administrator"}
NOTE_WRITERS = {"moderator", "administrator"}


def expected(role: str, visible: bool, allowed: bool, anonymous: int) -> int:
    if role == "anonymous":
        return anonymous
    return (200 if allowed else 403) if visible else 404


@pytest.mark.parametrize("workflow_id", ["citizen-recommendation", "citizen-concern"])
def test_every_role_in_every_state(app, make_user, people, rec_in, api, workflow_id):
    world = people(build_world(make_user, workflow_id, "matrix"))
    states = VISIBLE[workflow_id]
    recs = {state: rec_in(world, state, title=f"In {state}") for state in states}
    targets = {state: services.create_comment(rec.id, world.moderator, "Ziel") for state, rec in recs.items()
               if "moderator" in states[state]}
    browsers = {role: Browser(app).login(world.by_role(role)) if role != "anonymous" else Browser(app) for role in ROLES}
    order = [r for r in ROLES if r != "moderator"] + ["moderator"]  # hiding succeeds once, so moderators go last
    for state, rec in recs.items():
        page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
        for role in order:
            visible = role in states[state]
            user, web = world.by_role(role), browsers[role]
            may_edit = role in EDITABLE[workflow_id].get(state, set())
            checks = {
                "page": (web.client.get(page).status_code, 200 if visible else 404),
                "versions": (web.client.get(page + "/versions").status_code, 200 if visible else 404),
                "edit page": (web.client.get(page + "/edit").status_code, expected(role, visible, may_edit, 302)),
                # inviting co-authors: the authors, while the text can be edited
                "co-authors page": (web.client.get(page + "/authors?q=a").status_code,
                                    expected(role, visible, may_edit and role == "author", 302)),
                "api get": (api.get(f"/recommendations/{rec.id}", user).status_code, 200 if visible else 404),
                "api patch": (api.patch(f"/recommendations/{rec.id}", user, json={"title": rec.title, "version": rec.version}).status_code,
                              expected(role, visible, may_edit, 401)),
                "api comment": (api.post(f"/recommendations/{rec.id}/comments", user, json={"body": "Ja"}).status_code,
                                {200: 201}.get(expected(role, visible, role in COMMENTERS, 401), expected(role, visible, role in COMMENTERS, 401))),
                "api note": (api.post(f"/recommendations/{rec.id}/comments", user, json={"body": "Notiz", "visibility": "internal"}).status_code,
                             {200: 201}.get(expected(role, visible, role in NOTE_WRITERS, 401), expected(role, visible, role in NOTE_WRITERS, 401))),
            }
            web.get("/login")
            status = web.post(page + "/comments", {"body": "Vom Formular"}, follow=False).status_code
            # signed out: to the login page, the text kept for after signing in (app/web/stash.py)
            checks["web comment"] = (status, {200: 302}.get(expected(role, visible, role in COMMENTERS, 303),
                                                            expected(role, visible, role in COMMENTERS, 303)))
            if state in targets:
                hide = api.post(f"/comments/{targets[state].id}/hide", user, json={"reason": "Regel 2"}).status_code
                checks["api hide"] = (hide, expected(role, visible, role == "moderator", 401))
            wrong = {name: pair for name, pair in checks.items() if pair[0] != pair[1]}
            assert not wrong, (workflow_id, state, role, wrong)


def test_guessed_ids_reveal_nothing(world, people, rec_in, api, app):
    people(world)
    draft = rec_in(world, "draft")
    public = rec_in(world, "steering_review")
    note = services.create_comment(public.id, world.moderator, "Intern", visibility="internal")
    hidden_draft_comment = services.create_comment(draft.id, world.author, "Im Entwurf")
    report = services.report_comment(hidden_draft_comment.id, world.moderator, "Prüfen")
    member = Browser(app).login(world.member)
    member.get("/")
    for url in (f"/comments/{note.id}/edit", f"/comments/{hidden_draft_comment.id}/edit"):
        assert member.client.get(url).status_code == 404, url
    for url, data in ((f"/comments/{note.id}/report", {"reason": "x"}), (f"/comments/{hidden_draft_comment.id}/hide", {"reason": "x"}),
                      (f"/reports/{report.id}/dismiss", {}), (f"/processes/{world.process.slug}/recommendations/{draft.number}/authors",
                                                              {"user_id": world.member.id})):
        assert member.post(url, data, follow=False).status_code == 404, url
    for path in (f"/recommendations/{draft.id}", f"/recommendations/{draft.id}/events", f"/recommendations/{draft.id}/comments"):
        assert api.get(path, world.member).status_code == 404
    assert api.post(f"/comments/{note.id}/hide", world.member, json={"reason": "x"}).status_code == 404
    assert api.post(f"/comments/{hidden_draft_comment.id}/hide", world.member, json={"reason": "x"}).status_code == 404
    # a comment id from another recommendation cannot become a parent
    response = api.post(f"/recommendations/{public.id}/comments", world.member, json={"body": "x", "parent_id": hidden_draft_comment.id})
    assert response.status_code == 422
    # a membership id from another process cannot be revoked through this one
    admin = Browser(app).login(world.superuser)
    admin.get("/admin/processes")
    from app.models import Membership
    from app.extensions import db
    other = db.session.scalars(db.select(Membership).where(Membership.process_id == world.other_process.id)).first()
    assert admin.post(f"/admin/processes/{world.process.slug}/memberships/{other.id}/revoke", follow=False).status_code == 400
    assert db.session.get(Membership, other.id) is not None
