"""Each person's way through the browser, end to end: from a member's draft to a public decision."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Recommendation


def last_actions(count: int) -> list[str]:
    db.session.rollback()
    return list(reversed(db.session.scalars(
        sa.select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(count)).all()))


def state_of(number: int) -> str:
    db.session.rollback()
    return db.session.scalars(sa.select(Recommendation.state).where(Recommendation.number == number)).one()


def test_from_draft_to_a_public_decision(world, people, browser):
    people(world)
    slug = world.process.slug
    page = f"/processes/{slug}/recommendations/1"

    # A member drafts, previews and saves.
    member = browser(world.author)
    member.get(f"/processes/{slug}")
    assert "Write a recommendation" in member.text
    member.get(f"/processes/{slug}/new")
    member.post(f"/processes/{slug}/new", {"title": "Beteiligung früh ankündigen",
                                           "body": "Sechs Wochen **vorher**.", "preview": "Preview"}, status=200)
    assert "Preview" in member.text and "<strong>vorher</strong>" in member.page.text
    assert state_of_count() == 0  # a preview saves nothing
    member.post(f"/processes/{slug}/new", {"title": "Beteiligung früh ankündigen",
                                           "body": "Sechs Wochen **vorher**.", "save": "Save"}, status=200)
    assert "Your draft is saved" in member.text and "Recommendation 1: Beteiligung früh ankündigen" in member.text
    assert "State Draft" in member.text
    assert last_actions(1) == ["recommendation.created"]
    member.post(f"{page}/transition", {"trigger": "submit", "version": version(1), "note": ""}, status=200)
    assert "Done: Recommendation 1 is now “Submitted”." in member.text
    assert state_of(1) == "submitted"

    # The moderator starts moderation and returns it with a note.
    moderator = browser(world.moderator)
    moderator.get(page)
    assert "Start moderation" in moderator.text and "Forward to the steering round" not in moderator.text
    moderator.post(f"{page}/transition", {"trigger": "start_moderation", "version": version(1)}, status=200)
    moderator.post(f"{page}/transition", {"trigger": "return_to_authors", "version": version(1), "note": ""}, status=200)
    assert moderator.redirected_to == page  # post/redirect/get, also when refused
    assert "This step needs a note that explains it." in moderator.text
    assert state_of(1) == "in_moderation"
    moderator.post(f"{page}/transition", {"trigger": "return_to_authors", "version": version(1),
                                          "note": "Bitte nennt eine konkrete Frist."}, status=200)
    assert state_of(1) == "draft"
    assert last_actions(1) == ["recommendation.transitioned"]

    # The member sees why, revises and submits again.
    member.get(page)
    assert "Return to the authors (In moderation → Draft)" in member.text
    assert "Bitte nennt eine konkrete Frist." in member.text
    member.get(f"{page}/edit")
    member.post(f"{page}/edit", {"title": "Beteiligung früh ankündigen", "body": "Spätestens **sechs Wochen** vorher.",
                                 "version": version(1), "save": "Save"}, status=200)
    assert "the earlier version is kept" in member.text
    member.get(f"{page}/versions?a=1&b=2")
    assert "removed: Sechs Wochen **vorher**." in member.text and "added: Spätestens **sechs Wochen** vorher." in member.text
    member.post(f"{page}/transition", {"trigger": "submit", "version": version(1)}, status=200)

    # Moderation forwards it to the steering round.
    moderator.post(f"{page}/transition", {"trigger": "start_moderation", "version": version(1)}, status=200)
    moderator.post(f"{page}/transition", {"trigger": "forward", "version": version(1)}, status=200)
    assert state_of(1) == "steering_review"

    # The administrator adopts it with a justification, from the steering-round queue.
    administrator = browser(world.administrator)
    administrator.get("/steering")
    assert "1: Beteiligung früh ankündigen" in administrator.text
    administrator.get(page)
    assert re.search(r"Decision due [A-Z][a-z]{2} \d{1,2}, \d{4}", administrator.text)
    administrator.post(f"{page}/transition", {"trigger": "adopt", "version": version(1), "confirm": "y",
                                              "note": "Angenommen: gilt ab dem nächsten Quartal."}, status=200)
    assert state_of(1) == "adopted"

    # Anyone reads the decision and its reasons.
    visitor = browser()
    visitor.get("/")
    assert "Latest decisions" in visitor.text and "Angenommen: gilt ab dem nächsten Quartal." in visitor.text
    visitor.get(page)
    assert "Decision Adopted Angenommen: gilt ab dem nächsten Quartal." in visitor.text
    assert f"Decided by {world.administrator.name}" in visitor.text
    assert "Next steps" not in visitor.text
    assert last_actions(9) == (["recommendation.created"] + ["recommendation.transitioned"] * 3
                               + ["recommendation.updated"] + ["recommendation.transitioned"] * 4)


def state_of_count() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Recommendation))


def version(number: int) -> int:
    db.session.rollback()
    return db.session.scalars(sa.select(Recommendation.version).where(Recommendation.number == number)).one()


def test_acting_on_a_stale_page_shows_what_changed_and_keeps_the_note(world, people, browser, rec_in):
    from app.services import fire
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    slow = browser(world.administrator)
    slow.get(page)
    seen_version = version(rec.number)
    seen = re.search(r'name="seen" value="(\d+)"', slow.page.text).group(1)
    # Meanwhile another administrator sends it back and moderation forwards it again.
    rec = fire(rec.id, "send_back", world.administrator, "Fachamt fragen.", seen_version)
    fire(rec.id, "forward", world.moderator, None, rec.version)

    slow.post(f"{page}/transition", {"trigger": "adopt", "version": seen_version, "seen": seen, "confirm": "y",
                                     "note": "Meine lange Begründung."}, status=200)
    assert slow.redirected_to == page
    assert "Someone else changed this in the meantime." in slow.text
    assert "What happened meanwhile" in slow.text
    assert "Send back to moderation (Steering round review → In moderation): Fachamt fragen." in slow.text
    assert "Forward to the steering round (In moderation → Steering round review)" in slow.text
    assert re.search(r'<textarea id="note"[^>]*>Meine lange Begründung.</textarea>', slow.page.text)
    assert 'value="adopt" checked' in slow.page.text
    assert state_of(rec.number) == "steering_review"
    fields = re.search(r'<input type="hidden" name="version" value="(\d+)">', slow.page.text)
    slow.post(f"{page}/transition", {"trigger": "adopt", "version": fields.group(1), "note": "Meine lange Begründung.",
                                     "confirm": "y"}, status=200)
    assert state_of(rec.number) == "adopted"


def test_a_note_for_a_step_no_longer_possible_is_shown_back(world, people, browser, rec_in):
    from app.services import fire
    people(world)
    rec = rec_in(world, "in_moderation")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    slow = browser(world.moderator)
    slow.get(page)
    seen_version = rec.version
    fire(rec.id, "forward", world.moderator, None, seen_version)
    slow.post(f"{page}/transition", {"trigger": "return_to_authors", "version": seen_version,
                                     "note": "Drei Absätze sorgfältiger Begründung."}, status=200)
    assert slow.redirected_to == page
    assert "Your note was not saved" in slow.text
    assert "Drei Absätze sorgfältiger Begründung." in slow.text
