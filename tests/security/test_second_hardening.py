"""Findings of the second hardening (docs/security.md lists each with its fix)."""
from __future__ import annotations

import re

import pytest
from werkzeug.security import check_password_hash

from app import services
from app.errors import Forbidden
from app.extensions import db
from app.models import ApiToken, Recommendation, User
from tests.conftest import audit_count
from tests.web.browser import PASSWORD, Browser


def active_tokens(user) -> int:
    db.session.expire_all()
    return len([t for t in db.session.query(ApiToken).filter_by(user_id=user.id) if t.revoked_at is None])


def test_a_password_change_ends_every_api_token(world, people, api, token):
    people(world)
    raw = token(world.member)
    assert api.get("/processes/guidelines/recommendations", world.member).status_code == 200
    services.change_password(world.member.id, PASSWORD, "a-new-long-password")
    assert active_tokens(world.member) == 0
    response = api.client.post("/api/v1/processes/guidelines/recommendations", json={"title": "t", "body": "b"},
                               headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401


def test_deactivation_ends_tokens_and_reactivation_does_not_revive_them(world, token):
    token(world.member)
    services.set_active(world.superuser, world.member.id, False)
    assert active_tokens(world.member) == 0
    services.set_active(world.superuser, world.member.id, True)
    assert active_tokens(world.member) == 0


def test_signing_in_with_an_unknown_address_checks_a_hash_too(world, people, app, monkeypatch):
    """The same work for a known and an unknown address: timing reveals no account."""
    people(world)
    checked = []
    import app.web.auth as auth
    monkeypatch.setattr(auth, "check_password_hash", lambda stored, given: checked.append(stored) or check_password_hash(stored, given))
    visitor = Browser(app)
    visitor.get("/login")
    visitor.post("/login", {"email": "nobody@example.org", "password": PASSWORD}, status=200)
    assert "E-mail or password is wrong." in visitor.text
    visitor.post("/login", {"email": world.member.email, "password": "wrong-password-1"}, status=200)
    assert len(checked) == 2
    method = app.config["PASSWORD_HASH_METHOD"].split(":")[0]
    assert all(stored.startswith(method) for stored in checked)  # the decoy uses the real method


@pytest.mark.parametrize("value", ["²", "①", "٣", "1²"])
def test_unicode_digits_in_numbers_are_refused_not_a_server_error(client, world, rec_in, value):
    rec = rec_in(world, "steering_review")
    assert client.get(f"/processes/guidelines?page={value}").status_code == 400
    response = client.get(f"/processes/guidelines/recommendations/{rec.number}/versions?a={value}&b=1")
    assert response.status_code in (200, 400, 404)


def test_the_graph_command_takes_workflow_ids_not_paths(runner, tmp_path):
    outside = tmp_path / "secret.yaml"
    outside.write_text("title: secret\n")
    result = runner.invoke(args=["workflows", "graph", f"../../../../../../..{outside.with_suffix('')}"])
    assert result.exit_code != 0 and "secret" not in result.output.replace(str(outside.with_suffix("")), "")
    assert "there is no workflow" in result.output


def test_co_authors_are_added_only_while_the_text_can_be_edited(world, rec_in):
    rec = rec_in(world, "steering_review")
    events = audit_count()
    with pytest.raises(Forbidden):
        services.add_author(rec.id, world.author, world.coauthor)
    db.session.expire_all()
    assert [link.user_id for link in db.session.get(Recommendation, rec.id).author_links] == [world.author.id]
    assert audit_count() == events
    draft = rec_in(world, "draft")
    assert world.coauthor.id in {link.user_id for link in services.add_author(draft.id, world.author, world.coauthor).author_links}


def test_a_policy_error_is_shown_at_the_new_password(world, people, browser):
    people(world)
    page = browser(world.member)
    page.get("/account/password")
    page.post("/account/password", {"current": PASSWORD, "new": world.member.email}, status=200)
    error = re.search(r'<p class="error" id="(\w+)-error"[^>]*>([^<]*)</p>', page.page.text)
    assert error and error.group(1) == "new" and "too easy to guess" in error.group(2)
    assert "The current password is wrong." not in page.text
    db.session.expire_all()
    assert check_password_hash(db.session.get(User, world.member.id).password_hash, PASSWORD)  # unchanged
