"""The one decision form on a recommendation page (issue 18, item 2), the stepper of the main path
(item 3), the latest note at the top (item 4) and inviting co-authors by a search (item 6)."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import Notification, Recommendation
from tests.conftest import audit_count


def _page(world, rec):
    return f"/processes/{world.process.slug}/recommendations/{rec.number}"


def _state_and_version(rec):
    db.session.expire_all()
    fresh = db.session.get(Recommendation, rec.id)
    return fresh.state, fresh.version


def _radios(html: str) -> list[tuple[str, bool]]:
    return [(m.group(1), bool(m.group(2))) for m in re.finditer(r'<input type="radio" name="trigger" id="[^"]+" value="([^"]+)"( checked)?', html)]


def test_administrators_choose_one_outcome_with_one_justification(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    page = _page(world, rec)
    admin = browser(world.administrator)
    admin.get(page)
    # One form: four choices, none taken for the person, one note, one confirmation box.
    assert _radios(admin.page.text) == [("adopt", False), ("adopt_in_part", False), ("reject", False), ("send_back", False)]
    assert admin.page.text.count('name="note"') == 1 and admin.page.text.count('class="decision-form"') == 1
    assert "Required." in admin.text  # every step out of the steering round needs a justification
    assert "Needed for: Adopt, Adopt in part, Reject." in admin.text
    assert 'aria-describedby="note-hint"' in admin.page.text

    # Nothing chosen: said at the choice, nothing written.
    events = audit_count()
    admin.post(page + "/transition", {"note": "Weil.", "version": rec.version})
    assert admin.redirected_to == page and "Choose a step." in admin.text
    assert 'aria-describedby="trigger-error"' in admin.page.text and "Weil." in admin.page.text
    # A final step not confirmed: said at the box, the note kept, nothing written.
    admin.post(page + "/transition", {"trigger": "reject", "note": "Zu teuer.", "version": rec.version})
    assert "“Reject” is final. Tick the box to confirm it." in admin.text
    assert 'aria-describedby="confirm-hint confirm-error" aria-invalid="true"' in admin.page.text
    assert 'value="reject" checked' in admin.page.text and ">Zu teuer.</textarea>" in admin.page.text
    # The justification missing: said at the field.
    admin.post(page + "/transition", {"trigger": "reject", "note": " ", "confirm": "y", "version": rec.version})
    assert "This step needs a note that explains it." in admin.text
    assert 'aria-describedby="note-hint note-error" aria-invalid="true"' in admin.page.text
    assert audit_count() == events and _state_and_version(rec)[0] == "steering_review"

    # The answer template of the chosen step on request; what the person wrote is never replaced.
    admin.post(page + "/transition", {"trigger": "reject", "note": "", "template": "1", "version": rec.version})
    assert "The steering round rejects the recommendation because …" in admin.text
    assert 'value="reject" checked' in admin.page.text and "Tick the box" not in admin.text
    admin.post(page + "/transition", {"trigger": "adopt", "template": "1", "version": rec.version,
                                      "note": "The steering round rejects the recommendation because …"})
    assert "The steering round adopts the recommendation because …" in admin.text  # another step's untouched template
    admin.post(page + "/transition", {"trigger": "adopt", "note": "Meine eigenen Worte.", "template": "1", "version": rec.version})
    assert "The note holds your own text, so it was left as it is." in admin.text and "Meine eigenen Worte." in admin.page.text
    assert audit_count() == events

    admin.post(page + "/transition", {"trigger": "reject", "note": "Zu teuer.", "confirm": "y", "version": rec.version})
    assert "is now “Rejected”" in admin.text and _state_and_version(rec)[0] == "rejected"
    assert audit_count() == events + 1


def test_every_error_of_the_decision_form_shows_at_once_at_its_field(world, people, browser, rec_in):
    """A final step without its justification and without the confirmation: both said in one go,
    each at its field and tied to it, not one after the other; nothing written."""
    people(world)
    rec = rec_in(world, "steering_review")
    page = _page(world, rec)
    admin = browser(world.administrator)
    admin.get(page)
    events = audit_count()
    admin.post(page + "/transition", {"trigger": "reject", "note": " ", "version": rec.version})
    assert admin.redirected_to == page
    html = admin.page.text
    assert "This step needs a note that explains it." in admin.text and "“Reject” is final. Tick the box to confirm it." in admin.text
    assert 'id="note-error"' in html and 'aria-describedby="note-hint note-error" aria-invalid="true"' in html
    assert 'id="confirm-error"' in html and 'aria-describedby="confirm-hint confirm-error" aria-invalid="true"' in html
    # A note too long and no confirmation: both too.
    admin.post(page + "/transition", {"trigger": "reject", "note": "x" * 10_001, "version": rec.version})
    assert "Field cannot be longer than 10000 characters." in admin.text
    assert 'id="note-error"' in admin.page.text and 'id="confirm-error"' in admin.page.text
    assert audit_count() == events and _state_and_version(rec)[0] == "steering_review"


def test_a_sessions_decision_form_shows_every_error_at_once(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    meeting = services.create_session(world.process.id, world.administrator, "5. Sitzung", "2026-06-01T18:00")
    services.add_ready(meeting.id, world.administrator)
    page = f"/sessions/{meeting.id}"
    admin = browser(world.administrator)
    admin.get(page)
    events = audit_count()
    admin.post(page + f"/decide/{rec.id}", {f"i{rec.id}-trigger": "reject", f"i{rec.id}-note": "",
                                           f"i{rec.id}-version": str(_state_and_version(rec)[1])}, status=422)
    html = admin.page.text
    assert "This step needs a note that explains it." in admin.text and "“Reject” is final. Tick the box to confirm it." in admin.text
    assert f'aria-describedby="i{rec.id}-note-hint i{rec.id}-note-error" aria-invalid="true"' in html
    assert f'aria-describedby="i{rec.id}-confirm-hint i{rec.id}-confirm-error" aria-invalid="true"' in html
    assert audit_count() == events


def test_the_decision_form_speaks_german(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    page = _page(world, rec)
    admin = browser(world.administrator)
    admin.client.get("/language/de")
    admin.get(page)
    assert "Schritt wählen" in admin.text and "Notiz oder Begründung" in admin.text
    assert "Ich bestätige diesen Schritt. Er ist endgültig und kann nicht rückgängig gemacht werden." in admin.text
    assert "Nötig für: Annehmen, Teilweise annehmen, Ablehnen." in admin.text
    admin.post(page + "/transition", {"trigger": "adopt", "note": "Gut.", "version": rec.version})
    assert "„Annehmen“ ist endgültig. Bitte das Kästchen ankreuzen, um es zu bestätigen." in admin.text
    admin.post(page + "/transition", {"note": "Gut.", "version": rec.version})
    assert "Bitte einen Schritt wählen." in admin.text


def test_a_single_step_is_chosen_and_withdrawing_is_confirmed(world, people, browser, rec_in):
    people(world)
    submitted = rec_in(world, "submitted")
    moderator = browser(world.moderator)
    moderator.get(_page(world, submitted))
    assert _radios(moderator.page.text) == [("start_moderation", True)]  # only one step: nothing to choose wrongly
    assert "Optional." in moderator.text and 'name="confirm"' not in moderator.page.text

    draft = rec_in(world, "draft")
    author = browser(world.author)
    author.get(_page(world, draft))
    assert _radios(author.page.text) == [("submit", False), ("withdraw", False)]
    assert "Needed for: Withdraw." in author.text
    events = audit_count()
    author.post(_page(world, draft) + "/transition", {"trigger": "withdraw", "version": draft.version})
    assert "“Withdraw” is final." in author.text and audit_count() == events
    author.post(_page(world, draft) + "/transition", {"trigger": "withdraw", "confirm": "y", "version": draft.version})
    assert _state_and_version(draft)[0] == "withdrawn"


def test_a_form_not_sent_by_the_page_is_a_bad_request(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    admin = browser(world.administrator)
    admin.get(_page(world, rec))
    events = audit_count()
    answer = admin.post(_page(world, rec) + "/transition", {"trigger": "adopt", "confirm": "y", "note": "x"}, follow=False)
    assert answer.status_code == 400 and audit_count() == events  # no version


def test_the_stepper_shows_the_main_path_with_the_due_date(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    visitor = browser()
    visitor.get(_page(world, rec))
    stepper = visitor.text.split("Where it stands")[1].split("Follow")[0]
    assert re.search(r"done: Draft done: Submitted done: In moderation current step: Steering round review "
                     r"decision due \w{3} \d{1,2}, \d{4} to come: Adopted", stepper), stepper
    assert 'aria-current="step"' in visitor.page.text
    # A decision off the main path: the way it took.
    rejected = rec_in(world, "rejected")
    visitor.get(_page(world, rejected))
    assert "done: Steering round review current step: Rejected" in visitor.text
    draft = rec_in(world, "draft")
    author = browser(world.author)
    author.get(_page(world, draft))
    assert "current step: Draft to come: Submitted to come: In moderation to come: Steering round review " \
           "decision due 42 days after it arrives to come: Adopted" in author.text
    author.client.get("/language/de")
    author.get(_page(world, draft))
    assert "Wo es steht" in author.text and "aktueller Schritt: Entwurf" in author.text
    assert "Entscheidung fällig 42 Tage nach Eingang" in author.text


def test_a_returned_author_reads_why_at_the_top(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "in_moderation")
    services.fire(rec.id, "return_to_authors", world.moderator, "Bitte Quellen ergänzen.", rec.version)
    author = browser(world.author)
    author.get(_page(world, rec))
    top = author.text.split("Where it stands")[0]
    assert "Note on the latest step" in top and "Bitte Quellen ergänzen." in top
    assert "Return to the authors (In moderation → Draft)" in top
    author.client.get("/language/de")
    author.get(_page(world, rec))
    assert "Hinweis zum letzten Schritt" in author.text.split("Wo es steht")[0]
    # Once it moves on without a note, the old note leaves the top (it stays in the timeline).
    state, version = _state_and_version(rec)
    services.fire(rec.id, "submit", world.author, None, version)
    author.get(_page(world, rec))
    assert "Hinweis zum letzten Schritt" not in author.text and "Bitte Quellen ergänzen." in author.text


def test_co_authors_are_invited_by_an_explicit_search_and_told(world, people, browser, rec_in, make_user):
    people(world)
    draft = rec_in(world, "draft")
    page = _page(world, draft)
    author = browser(world.author)
    author.get(page)
    assert "<select" not in author.page.text  # no list with a preselected name
    invite = f"{page}/authors"
    assert f'href="{invite}"' in author.page.text
    author.get(invite)
    assert 'type="search"' in author.page.text and "Invite Coauthor as co-author" not in author.text
    author.get(invite + "?q=coauth")
    assert "Invite Coauthor as co-author" in author.text and "Outsider" not in author.text
    author.get(invite + "?q=outsider")  # not a member of this process
    assert "Nobody among the members of this process" in author.text
    author.get(invite + "?q=%25")  # LIKE wildcards are searched as text
    assert "Invite" not in author.text.split("People found")[1]
    events = audit_count()
    author.post(invite, {"user_id": world.coauthor.id, "q": "coauth"})
    assert "Coauthor is now a co-author and has been told." in author.text and audit_count() == events + 1
    told = db.session.scalars(sa.select(Notification).where(Notification.user_id == world.coauthor.id)).all()
    assert [(n.kind, n.event) for n in told] == [("authored", "coauthor")]
    coauthor = browser(world.coauthor)
    coauthor.get("/notifications")
    assert "Author invited you as a co-author of “Announce participation early”." in coauthor.text
    coauthor.client.get("/language/de")
    coauthor.get("/notifications")
    assert "Author hat Sie als Mitautor*in von „Announce participation early“ eingeladen." in coauthor.text
    # Twice: refused, said on the search page.
    author.post(invite, {"user_id": world.coauthor.id, "q": "coauth"})
    assert author.redirected_to == invite and "is an author already" in author.text and audit_count() == events + 1
    # Bad input: a clear 400, nothing written.
    assert author.post(invite, {"user_id": "x"}, follow=False).status_code == 400
    assert author.post(invite, {"user_id": "999999"}, follow=False).status_code == 400
    assert audit_count() == events + 1


def test_co_authors_only_while_the_text_can_be_edited(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    author = browser(world.author)
    author.get(_page(world, rec))
    assert "Invite a co-author" not in author.text
    assert author.client.get(_page(world, rec) + "/authors?q=co").status_code == 403
    events = audit_count()
    assert author.post(_page(world, rec) + "/authors", {"user_id": world.coauthor.id}, follow=False).status_code == 403
    assert audit_count() == events
    draft = rec_in(world, "draft")
    member = browser(world.member)  # not an author of it (and cannot see a draft)
    assert member.client.get(_page(world, draft) + "/authors").status_code in (403, 404)
    assert browser().client.get(_page(world, draft) + "/authors").status_code == 302  # to the login page


def test_the_process_page_lists_the_workflow_a_phone_can_read(world, people, browser, rec_in):
    people(world)
    rec_in(world, "steering_review")
    visitor = browser()
    visitor.get(f"/processes/{world.process.slug}")
    assert "<svg" not in visitor.page.text.split('<main id="main">')[1]  # the workflow is no drawing (the header's logo is)
    states = re.findall(r'<li id="state-([a-z_]+)"', visitor.page.text)
    assert states == ["draft", "submitted", "in_moderation", "steering_review", "adopted",
                      "adopted_in_part", "rejected", "withdrawn"]  # the usual way first
    assert "Steering round review (1) Step 4 of the usual way" in visitor.text
    assert "Rejected (0) Off the usual way · final" in visitor.text
    assert "Return to the authors → leads to Draft (by moderator; needs a justification)" in visitor.text
    assert "Withdraw → leads to Withdrawn (by the authors)" in visitor.text
    visitor.client.get("/language/de")
    visitor.get(f"/processes/{world.process.slug}")
    assert "In der Steuerungsrunde (1) Schritt 4 des üblichen Wegs" in visitor.text
    assert "Zurückziehen → führt zu Zurückgezogen (durch: die Autor*innen)" in visitor.text
