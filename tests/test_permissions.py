"""The permission predicates one by one, without a database: each rule and each of its edges
(the mutation run, bench/mutation.py, asked for these: a predicate could lose a clause unnoticed)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from app import permissions as p
from app.workflow.definition import load_directory
from tests.conftest import REPO

WORKFLOWS, _problems = load_directory(REPO / "app" / "workflows")
REC = WORKFLOWS["citizen-recommendation"]
PUBLIC = frozenset({"public"})


def roles(*names: str) -> frozenset[str]:
    return frozenset({"public", *names})


def comment(visibility="public", hidden=False, author_id=7):
    return SimpleNamespace(visibility=visibility, hidden=hidden, author_id=author_id)


def test_creating_viewing_and_editing_follow_the_workflow():
    assert [p.can_create(roles(r)) for r in ("member", "moderator", "administrator", "author")] == [True, True, True, False]
    assert not p.can_create(PUBLIC)
    assert p.can_view(roles("author"), REC, "draft") and p.can_view(roles("moderator"), REC, "draft")
    assert not p.can_view(roles("member"), REC, "draft") and not p.can_view(PUBLIC, REC, "draft")
    assert p.can_view(PUBLIC, REC, "steering_review")
    assert not p.can_view(roles("moderator", "author"), REC, "no_such_state")
    assert p.can_edit(roles("author"), REC, "draft") and not p.can_edit(roles("moderator"), REC, "draft")
    assert not p.can_edit(roles("author"), REC, "submitted") and not p.can_edit(roles("author"), REC, "no_such_state")


def test_firing_needs_a_role_of_the_transition_and_authors_fire_only_author_steps():
    submit, adopt = REC.transition("draft", "submit"), REC.transition("steering_review", "adopt")
    assert p.can_fire(roles("author"), submit) and not p.can_fire(roles("member"), submit)
    assert p.can_fire(roles("administrator"), adopt) and not p.can_fire(roles("moderator"), adopt)
    assert not p.can_fire(roles("administrator", "author"), adopt)  # separation of duties
    assert p.can_fire(roles("member", "author"), submit)  # author steps stay open to authors


def test_visible_states_split_what_roles_see_from_what_authorship_adds():
    by_role, by_authorship = p.visible_states(roles("member"), REC)
    assert "submitted" in by_role and "steering_review" in by_role and "draft" not in by_role
    assert by_authorship == ["draft"]
    assert p.visible_states(roles("moderator"), REC)[1] == []  # moderators see drafts by role
    assert p.department_states(PUBLIC, REC) == []  # the public sees those states by role already
    assert p.department_states(frozenset(), REC) == ["steering_review", "adopted", "adopted_in_part", "rejected"]


def test_statements_are_requested_read_and_answered_by_the_right_people():
    assert p.can_request_statement(roles("administrator"), REC, "steering_review")
    assert not p.can_request_statement(roles("moderator"), REC, "steering_review")
    assert not p.can_request_statement(roles("administrator"), REC, "in_moderation")  # takes no statements
    assert not p.can_request_statement(roles("administrator"), REC, "no_such_state")
    internal, public = SimpleNamespace(visibility="internal"), SimpleNamespace(visibility="public")
    assert p.can_read_statement(PUBLIC, public, False)
    assert not p.can_read_statement(roles("member"), internal, False)
    assert p.can_read_statement(PUBLIC, internal, True)
    assert p.can_read_statement(roles("moderator"), internal, False) and p.can_read_statement(roles("administrator"), internal, False)
    assert p.can_answer_statement(True) and not p.can_answer_statement(False)


def test_comments_are_written_read_and_hidden_by_role():
    assert p.can_comment(roles("member"), "public") and p.can_comment(roles("author"), "public")
    assert not p.can_comment(PUBLIC, "public")
    assert not p.can_comment(roles("member", "author"), "internal")
    assert p.can_comment(roles("moderator"), "internal") and p.can_comment(roles("administrator"), "internal")
    assert p.can_read_comment(PUBLIC, comment()) and not p.can_read_comment(roles("member"), comment("internal"))
    assert p.can_read_comment(roles("administrator"), comment("internal"))
    assert p.can_read_hidden_text(roles("moderator")) and not p.can_read_hidden_text(roles("administrator"))
    assert p.can_hide_comment(roles("moderator")) and not p.can_hide_comment(roles("administrator", "member"))


def test_only_its_author_edits_a_comment_and_not_once_it_is_hidden():
    assert p.can_edit_comment(7, comment())
    assert not p.can_edit_comment(8, comment())
    assert not p.can_edit_comment(None, comment(author_id=None))
    assert not p.can_edit_comment(7, comment(hidden=True))  # a moderator hid it: the author may not change it


def test_the_text_of_a_hidden_comment_is_for_moderators():
    assert p.can_read_comment_text(PUBLIC, comment())
    assert not p.can_read_comment_text(PUBLIC, comment(hidden=True))
    assert p.can_read_comment_text(roles("moderator"), comment(hidden=True))
    assert not p.can_read_comment_text(roles("administrator"), comment(hidden=True))
    assert not p.can_read_comment_text(roles("member"), comment("internal"))
    assert p.can_read_comment_text(roles("administrator"), comment("internal"))


@pytest.mark.parametrize("action", p.MODERATION_ACTIONS)
def test_reports_are_for_moderators_only(action):
    assert p.can_read_event_data(roles("moderator"), action, comment())
    assert not p.can_read_event_data(roles("administrator", "member"), action, comment())
    assert not p.can_read_event_data(roles("administrator"), action, None)


def test_event_data_follows_what_its_subject_lets_a_reader_read():
    assert p.can_read_event_data(PUBLIC, "recommendation.transitioned", None)
    assert p.can_read_event_data(PUBLIC, "comment.created", comment())
    assert not p.can_read_event_data(PUBLIC, "comment.created", comment(hidden=True))
    assert p.can_read_event_data(PUBLIC, "comment.hidden", comment(hidden=True))  # the reason is public
    assert not p.can_read_event_data(PUBLIC, "comment.hidden", comment("internal", hidden=True))
    assert p.can_read_event_data(roles("administrator"), "comment.hidden", comment("internal", hidden=True))
    assert not p.can_read_event_data(roles("member"), "comment.created", comment("internal"))
