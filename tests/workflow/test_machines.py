"""The engine is carried by `transitions`: the machine's guards decide what may happen, its
callbacks work out what a move does, and the service only reports and writes it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import services
from app.errors import Forbidden, ValidationError
from app.services import fire
from app.workflow import engine
from app.workflow.machines import Move
from tests.conftest import audit_count


def test_a_recommendation_s_own_author_never_moderates_or_decides_it(world, rec_in):
    """Separation of duties: a co-author who becomes moderator (a moderator cannot be invited as
    co-author any more) cannot move the text as moderator."""
    rec = rec_in(world, "draft")
    rec = services.add_author(rec.id, world.author, world.coauthor)
    services.grant_role(world.process, world.coauthor, "moderator")
    services.grant_role(world.process, world.coauthor, "administrator")
    with pytest.raises(ValidationError):
        services.add_author(rec_in(world, "draft").id, world.author, world.coauthor)
    rec = fire(rec.id, "submit", world.coauthor, None, rec.version)  # their own step, as author
    events = audit_count()
    with pytest.raises(Forbidden):
        fire(rec.id, "start_moderation", world.coauthor, None, rec.version)
    assert services.fire(rec.id, "start_moderation", world.moderator, None, rec.version).state == "in_moderation"
    assert audit_count() == events + 1
    # What the machine offers follows the same rule: the author-moderator may only withdraw here.
    workflow = engine().get(world.process.workflow_id)
    offered = engine().allowed(workflow.id, "in_moderation", frozenset({"public", "member", "moderator", "author"}))
    assert [t.trigger for t in offered] == ["withdraw"]
    assert [t.trigger for t in engine().allowed(workflow.id, "in_moderation", frozenset({"public", "moderator"}))] == \
        [t.trigger for t in workflow.outgoing("in_moderation") if "moderator" in t.roles]


def test_the_machine_guards_in_order_and_writes_down_the_effects(app):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    machine = engine()
    refused = machine.move("citizen-recommendation", "steering_review", "adopt", Move(frozenset({"moderator"}), "ok", now))
    assert (refused.refused, refused.dest) == ("roles", None)
    unnoted = machine.move("citizen-recommendation", "steering_review", "adopt", Move(frozenset({"administrator"}), None, now))
    assert (unnoted.refused, unnoted.dest) == ("note", None)
    moved = machine.move("citizen-recommendation", "steering_review", "adopt", Move(frozenset({"administrator"}), "Yes.", now))
    assert (moved.refused, moved.dest, moved.outcome, moved.due_at) == (None, "adopted", "adopted", None)
    forwarded = machine.move("citizen-recommendation", "in_moderation", "forward", Move(frozenset({"moderator"}), None, now))
    assert forwarded.dest == "steering_review" and forwarded.due_at == now + timedelta(days=42)
    assert forwarded.outcome is None


def test_a_refused_move_has_no_effects(app):
    machine = engine()
    refused = machine.move("citizen-recommendation", "submitted", "start_moderation", Move(frozenset({"member"})))
    assert refused.refused == "roles" and (refused.dest, refused.due_at, refused.outcome) == (None, None, None)
