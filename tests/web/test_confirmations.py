"""Destructive buttons of the administration ask first (issue 18, item 2): deactivating a person and
revoking a role go through a confirmation page that works without script."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Membership
from tests.conftest import audit_count


def _membership(world):
    return db.session.scalars(sa.select(Membership).where(Membership.process_id == world.process.id,
                                                          Membership.user_id == world.moderator.id)).one()


def test_only_superusers_see_the_confirmation_pages(world, people, browser):
    people(world)
    membership = _membership(world)
    pages = [f"/admin/users/{world.member.id}/deactivate",
             f"/admin/processes/{world.process.slug}/memberships/{membership.id}/revoke"]
    for user in (world.member, world.moderator, world.administrator):
        for page in pages:
            assert browser(user).client.get(page).status_code == 403, (user, page)
    for page in pages:
        assert browser().client.get(page).status_code == 302  # to the login page
    admin = browser(world.superuser)
    admin.get(pages[1])
    assert f"Revoke moderator from {world.moderator.name}?" in admin.text
    assert "loses what the role moderator allows in “Participation guidelines” at once" in admin.text
    assert 'name="confirm" value="yes"' in admin.page.text and "Cancel" in admin.text
    admin.client.get("/language/de")
    admin.get(pages[1])
    assert f"{world.moderator.name} die Rolle Moderation entziehen?" in admin.text
    # Unknown, or a membership of another process through this one: 404.
    assert admin.client.get("/admin/users/999999/deactivate").status_code == 404
    other = db.session.scalars(sa.select(Membership).where(Membership.process_id == world.other_process.id)).first()
    assert admin.client.get(f"/admin/processes/{world.process.slug}/memberships/{other.id}/revoke").status_code == 404


def test_revoking_unconfirmed_changes_nothing(world, people, browser):
    people(world)
    membership = _membership(world)
    admin = browser(world.superuser)
    admin.get(f"/admin/processes/{world.process.slug}")
    assert f'href="/admin/processes/{world.process.slug}/memberships/{membership.id}/revoke"' in admin.page.text
    events = audit_count()
    answer = admin.post(f"/admin/processes/{world.process.slug}/memberships/{membership.id}/revoke", {"confirm": "no"},
                        follow=False)
    assert answer.status_code == 303 and audit_count() == events and db.session.get(Membership, membership.id) is not None
