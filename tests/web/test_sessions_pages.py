"""Sessions on the pages: create, build the agenda, decide item by item, close, and the minutes as PDF."""
from __future__ import annotations

import io
import json

from pypdf import PdfReader

from app import audit, services
from app.extensions import db
from app.models import AgendaItem, AuditEvent, Recommendation, SteeringSession
from tests.conftest import audit_count


def _version(rec_id):
    db.session.expire_all()
    return db.session.get(Recommendation, rec_id).version


def test_a_session_through_the_pages_ends_in_tagged_minutes(world, people, browser, rec_in, make_user):
    people(world)
    first = rec_in(world, "steering_review", title="Früh informieren")
    second = rec_in(world, "steering_review", title="Barrierefrei tagen")
    admin = browser(world.administrator)
    admin.get(f"/processes/{world.process.slug}/sessions")
    assert "New session" in admin.text
    # A refusal at its field, nothing written.
    events = audit_count()
    refused = admin.post(f"/processes/{world.process.slug}/sessions", {"title": "3. Sitzung", "held_at": "14.03.2026"},
                         follow=False)
    assert refused.status_code == 303  # post/redirect/get, also when refused: what was typed comes back
    admin.get(refused.headers["Location"], status=422)
    assert "the date must look like 2026-03-14" in admin.text and 'aria-invalid="true"' in admin.page.text
    assert 'value="3. Sitzung"' in admin.page.text
    assert audit_count() == events
    admin.post(f"/processes/{world.process.slug}/sessions",
               {"title": "3. Sitzung", "held_at": "2026-03-14T18:30", "place": "Rathaus", "participants": "Anna, Ben"})
    assert "The session “3. Sitzung” is created." in admin.text
    meeting = db.session.scalars(db.select(SteeringSession)).one()
    page = f"/sessions/{meeting.id}"
    assert "Add all that are ready (2)" in admin.text
    admin.post(page + "/agenda/ready", {})
    assert "2 recommendations added to the agenda." in admin.text
    admin.post(page + f"/agenda/{second.id}/up", {})
    assert [i.recommendation_id for i in db.session.scalars(db.select(AgendaItem).order_by(AgendaItem.position))] \
        == [second.id, first.id]

    # One form per item: the decision as a choice, nothing chosen beforehand; the chosen decision's
    # answer template fills the justification on request (no script needed).
    admin.get(page)
    assert f'name="i{second.id}-trigger"' in admin.page.text and "checked" not in admin.page.text
    assert "The steering round adopts the recommendation because …" not in admin.text
    events = audit_count()
    admin.post(page + f"/decide/{second.id}", {f"i{second.id}-trigger": "adopt", f"i{second.id}-note": "",
                                              f"i{second.id}-template": "1",
                                              f"i{second.id}-version": str(_version(second.id))})
    assert "The steering round adopts the recommendation because …" in admin.text
    assert f'value="adopt" checked' in admin.page.text and audit_count() == events
    # A final decision is confirmed: without the box ticked, nothing happens, and the note stays.
    admin.post(page + f"/decide/{second.id}", {f"i{second.id}-trigger": "adopt_in_part", f"i{second.id}-note": "Teils.",
                                              f"i{second.id}-version": str(_version(second.id))}, status=422)
    assert "“Adopt in part” is final. Tick the box to confirm it." in admin.text and "Teils." in admin.page.text
    assert f'aria-describedby="i{second.id}-confirm-hint i{second.id}-confirm-error"' in admin.page.text
    assert audit_count() == events
    admin.post(page + f"/decide/{second.id}", {f"i{second.id}-trigger": "adopt_in_part", f"i{second.id}-note": "",
                                              f"i{second.id}-confirm": "y",
                                              f"i{second.id}-version": str(_version(second.id))}, status=422)
    assert "This step needs a note that explains it." in admin.text
    assert admin.page.request.path == page and admin.page.request.method == "GET"  # redirected back to the page
    assert audit_count() == events
    admin.post(page + f"/decide/{second.id}", {
        f"i{second.id}-trigger": "adopt_in_part", f"i{second.id}-version": str(_version(second.id)),
        f"i{second.id}-confirm": "y",
        f"i{second.id}-note": "Angenommen: Teil 1 (Aushang). Nicht angenommen: Teil 2, der Haushalt fehlt."})
    assert "Decided. The decision is recorded with this session." in admin.text
    assert "(Steering round review → Adopted in part) in a session of the steering round" in admin.client.get(
        f"/processes/{world.process.slug}/recommendations/{second.number}").text
    # A stale form (the recommendation moved meanwhile) keeps what was typed.
    admin.post(page + f"/decide/{first.id}", {f"i{first.id}-trigger": "reject", f"i{first.id}-note": "Zu teuer für 2026.",
                                             f"i{first.id}-confirm": "y", f"i{first.id}-version": "1"}, status=422)
    assert "Zu teuer für 2026." in admin.page.text and admin.page.request.method == "GET"
    admin.post(page + f"/decide/{first.id}", {f"i{first.id}-trigger": "reject", f"i{first.id}-note": "Zu teuer für 2026.",
                                             f"i{first.id}-confirm": "y", f"i{first.id}-version": str(_version(first.id))})
    admin.post(page + "/minutes", {"place": "Rathaus, Raum 101", "participants": "Anna Admin, Ben Bürger",
                                   "notes": "Nächste Sitzung im Mai."})
    assert "The minutes are saved." in admin.text
    head = audit.head()
    events = audit_count()
    admin.post(page + "/close", {})  # not confirmed: nothing happens, the page says why
    assert "closing cannot be undone" in admin.text and audit_count() == events
    assert db.session.get(SteeringSession, meeting.id).status == "open"
    admin.post(page + "/close", {"confirm": "yes"})
    assert "The session is closed; its minutes are final." in admin.text
    assert f"{head[0]}:{head[1]}" in admin.text
    last = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert last.action == "session.closed" and json.loads(last.data)["chain_head"] == f"{head[0]}:{head[1]}"
    # Closing twice (a second click): said plainly, nothing written.
    events = audit_count()
    admin.post(page + "/close", {"confirm": "yes"}, status=200)
    assert "This session is closed already; its minutes are final and nothing was changed." in admin.text
    assert "cannot change any more" not in admin.text and admin.page.request.method == "GET"
    assert audit_count() == events

    # The public reads the minutes and gets them as a tagged PDF in the reader's language.
    visitor = browser()
    visitor.get(page)
    assert "Minutes: 3. Sitzung" in visitor.text and "Nächste Sitzung im Mai." in visitor.text
    assert "<form" not in visitor.page.text.split('<main id="main">')[1]
    response = visitor.client.get(page + "/minutes.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en" and root["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in root
    assert reader.metadata.title.startswith("3. Sitzung")
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    for expected in ("Minutes: 3. Sitzung", "Barrierefrei tagen", "Adopted in part", "Angenommen: Teil 1 (Aushang).",
                     "Früh informieren", "Rejected", "Zu teuer für 2026.", "Anna Admin, Ben Bürger",
                     "Nächste Sitzung im Mai."):
        assert expected in text, expected
    assert any(f"{head[0]}:{head[1]}" in line for p in reader.pages for line in p.extract_text().splitlines())  # on one line
    assert "Sign in" not in text and "Close the session" not in text


def test_minutes_of_an_open_session_are_no_document(world, browser):
    meeting = services.create_session(world.process.id, world.administrator, "Offen", "2026-03-14")
    assert browser().client.get(f"/sessions/{meeting.id}/minutes.pdf").status_code == 404
    assert browser().client.get(f"/sessions/{meeting.id + 1}").status_code == 404


def test_a_decision_starts_from_the_answer_template_and_the_process_may_keep_its_own(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    admin = browser(world.administrator)

    def template_of(trigger):  # the decision form's button: the chosen step's template into the note
        admin.post(page + "/transition", {"trigger": trigger, "template": "1", "note": "", "version": _version(rec.id)})
        assert admin.redirected_to == page and admin.page.status_code == 200
        return admin.text

    assert "Adopted are these parts: …" in template_of("adopt_in_part")  # the justification says which parts
    admin.get(f"/processes/{world.process.slug}/answer-templates")
    events = audit_count()
    admin.post(f"/processes/{world.process.slug}/answer-templates", {"template-adopted": "Unser Bezirk nimmt an, weil …"})
    assert "The answer templates are saved." in admin.text and audit_count() == events + 1
    assert "Unser Bezirk nimmt an, weil …" in template_of("adopt")
    # Too long: refused, nothing written, back to the page with the text as typed.
    events = audit_count()
    admin.post(f"/processes/{world.process.slug}/answer-templates", {"template-adopted": "Zu lang. " + "x" * 10_000})
    assert admin.redirected_to == f"/processes/{world.process.slug}/answer-templates"
    assert "longer than 10000 characters" in admin.text and "Zu lang. xxx" in admin.text and audit_count() == events
    # Emptied: back to the workflow's template.
    admin.post(f"/processes/{world.process.slug}/answer-templates", {"template-adopted": ""})
    assert "The steering round adopts the recommendation because …" in template_of("adopt")
    assert browser(world.moderator).client.get(f"/processes/{world.process.slug}/answer-templates").status_code == 403


def test_follow_up_after_adoption_is_public_and_overdue_reports_are_listed(world, people, browser, rec_in, make_user):
    people(world)
    rec = rec_in(world, "adopted")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    admin = browser(world.administrator)
    admin.get(page)
    assert "Report on the implementation" in admin.text
    events = audit_count()
    admin.post(page + "/follow-ups", {"status": "in_progress", "body": "", "next_days": "12"}, status=422)
    assert "A report needs some text." in admin.text and audit_count() == events
    assert admin.redirected_to == page and 'value="12"' in admin.page.text  # post/redirect/get, typed days kept
    admin.post(page + "/follow-ups", {"status": "in_progress", "body": "Aushang **hängt**.", "next_days": "30",
                                      "department": ""})
    assert "The report on the implementation is published." in admin.text and audit_count() == events + 1
    assert "Aushang hängt" in admin.text, admin.text
    visitor = browser()
    visitor.get(page)
    assert "Aushang hängt" in visitor.text and "in progress" in visitor.text
    assert "Report on the implementation" not in visitor.text
    # Members, moderators and the public do not report.
    assert browser(world.member).post(page + "/follow-ups", {"status": "done", "body": "x"}, follow=False).status_code == 403
    # An overdue report is listed on the front page.
    from app.models import FollowUp, utcnow
    from datetime import timedelta
    from app.transactions import write_transaction
    with write_transaction() as session:
        session.add(FollowUp(recommendation_id=rec.id, status="planned", body="Plan", body_html="<p>Plan</p>",
                             next_due_at=utcnow() - timedelta(days=1), author_id=world.administrator.id))
    visitor.get("/")
    assert "Implementation reports overdue" in visitor.text and rec.title in visitor.text.split("Implementation reports overdue")[1]


def test_no_follow_up_before_adoption(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "rejected")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    admin = browser(world.administrator)
    admin.get(page)
    assert "Report on the implementation" not in admin.text
    assert admin.post(page + "/follow-ups", {"status": "done", "body": "x"}, follow=False).status_code == 403


def test_german_minutes_say_so_in_the_pdf(world, browser, rec_in):
    rec = rec_in(world, "steering_review", title="Früh informieren")
    meeting = services.create_session(world.process.id, world.administrator, "5. Sitzung", "2026-05-06")
    services.add_to_agenda(meeting.id, world.administrator, rec.id)
    services.decide(meeting.id, world.administrator, rec.id, "reject", "Abgelehnt, weil der Haushalt fehlt.",
                    _version(rec.id))
    services.close_session(meeting.id, world.administrator)
    response = browser().client.get(f"/sessions/{meeting.id}/minutes.pdf", headers={"Accept-Language": "de"})
    reader = PdfReader(io.BytesIO(response.data))
    assert reader.trailer["/Root"]["/Lang"] == "de"
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert "Protokoll: 5. Sitzung" in text and "Tagesordnung" in text and "Abgelehnt" in text
    assert "Mittwoch, 6. Mai 2026" in text


def test_a_recommendations_dossier_is_a_tagged_pdf_with_its_event_hashes(world, browser, rec_in, make_user):
    rec = rec_in(world, "steering_review", title="Früh informieren")
    planning = services.create_department("stadtplanung", "Stadtentwicklungsamt")
    planner = make_user("Petra")
    services.add_department_member(planning, planner)
    asked = services.request_statement(rec.id, world.administrator, "stadtplanung", "Machbar?")
    services.answer_statement(asked.id, planner, "Machbar mit zwei Aushängen.")
    services.create_comment(rec.id, world.moderator, "Nur für die Steuerungsrunde.", visibility="internal")
    rec = services.fire(rec.id, "adopt", world.administrator, "Angenommen, weil es wirkt.", _version(rec.id))
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    visitor = browser()
    assert "Dossier as PDF" in visitor.get(page).text
    response = visitor.client.get(page + "/dossier.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    assert reader.trailer["/Root"]["/Lang"] == "en" and "/StructTreeRoot" in reader.trailer["/Root"]
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    for expected in ("Früh informieren", "Six weeks ahead", "Stadtentwicklungsamt", "Machbar mit zwei Aushängen.",
                     "Angenommen, weil es wirkt.", "Adopted", "recommendation.transitioned"):
        assert expected in text, expected
    last = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert last.hash in text.replace(" ", "")
    assert "Nur für die Steuerungsrunde." not in text  # an internal note stays internal
    # A draft's dossier is not for the public.
    draft = rec_in(world, "draft")
    assert visitor.client.get(f"/processes/{world.process.slug}/recommendations/{draft.number}/dossier.pdf").status_code == 404


def test_closed_minutes_stay_as_they_were_when_the_session_closed(world, people, browser, api, rec_in, make_user):
    """Minutes are a record: what happens to a recommendation after its session closed (a new title,
    a decision in a later session, a statement answered later) does not change them, on the page,
    in the PDF's source, on the command line or in the API's ``at_closing``."""
    people(world)
    decided = rec_in(world, "steering_review", title="Früh informieren")
    later = rec_in(world, "steering_review", title="Barrierefrei tagen")
    planning = services.create_department("stadtplanung", "Stadtentwicklungsamt")
    petra = make_user("Petra")
    services.add_department_member(planning, petra)
    meeting = services.create_session(world.process.id, world.administrator, "3. Sitzung", "2026-03-14T18:30")
    services.add_ready(meeting.id, world.administrator)
    services.decide(meeting.id, world.administrator, decided.id, "reject", "Zu teuer.", _version(decided.id))
    services.close_session(meeting.id, world.administrator)

    # After closing: a statement is asked and answered, the title changes, a later session decides.
    asked = services.request_statement(later.id, world.administrator, "stadtplanung", "Machbar?")
    services.answer_statement(asked.id, petra, "Machbar bis 2027.")
    db.session.execute(db.update(Recommendation).where(Recommendation.id == later.id).values(title="Neuer Titel"))
    db.session.commit()
    second = services.create_session(world.process.id, world.administrator, "4. Sitzung", "2026-05-14T18:30")
    services.add_to_agenda(second.id, world.administrator, later.id)
    services.decide(second.id, world.administrator, later.id, "adopt", "Gern.", _version(later.id))

    visitor = browser(None)
    visitor.get(f"/sessions/{meeting.id}")
    item = visitor.page.text.split(f'id="item-{later.id}"')[1].split("</li>")[0]
    assert "Barrierefrei tagen" in item and "Neuer Titel" not in item
    assert "not decided in this session" in item and "Steering round review" in item and "Adopted" not in item
    assert "Stadtentwicklungsamt" not in item  # the statement came after the minutes
    assert "Zu teuer." in visitor.page.text.split(f'id="item-{decided.id}"')[1]
    # The later session shows the recommendation as it is now.
    visitor.get(f"/sessions/{second.id}")
    assert "Neuer Titel" in visitor.text and "Stadtentwicklungsamt" in visitor.text
    body = api.get(f"/sessions/{meeting.id}").json
    entry = next(i for i in body["items"] if i["recommendation"]["id"] == later.id)
    assert entry["recommendation"]["title"] == "Neuer Titel"  # the recommendation now
    assert entry["at_closing"] == {"title": "Barrierefrei tagen", "state": "steering_review", "statements": []}
    assert "at_closing" not in api.get(f"/sessions/{second.id}").json["items"][0]


def test_without_pdf_support_no_pdf_is_offered_and_the_address_says_why(world, people, browser, rec_in, monkeypatch):
    from app import documents

    def missing():
        raise documents.PdfUnavailable("Pango is missing")

    monkeypatch.setattr(documents, "_weasyprint", missing)
    documents.available.cache_clear()
    try:
        people(world)
        rec = rec_in(world, "steering_review")
        meeting = services.create_session(world.process.id, world.administrator, "3. Sitzung", "2026-03-14T18:30")
        services.close_session(meeting.id, world.administrator)
        visitor = browser(None)
        visitor.get(f"/sessions/{meeting.id}")
        assert "Minutes as PDF" not in visitor.text and "Minutes" in visitor.text
        visitor.get(f"/processes/{world.process.slug}/recommendations/{rec.number}")
        assert "Dossier as PDF" not in visitor.text
        for path in (f"/sessions/{meeting.id}/minutes.pdf", f"/processes/{world.process.slug}/recommendations/{rec.number}/dossier.pdf"):
            response = visitor.client.get(path)
            assert response.status_code == 503 and "cannot be made on this server" in response.text
            assert "Pango" not in response.text  # the cause goes to the log, not to visitors
    finally:
        documents.available.cache_clear()


def test_an_item_sent_back_after_closing_stays_in_the_minutes_under_its_number(world, people, browser, api, rec_in):
    """Closed minutes are judged by the state each item had at closing: an undecided item later sent
    back to a draft (not public) still stands in the public minutes, as item 2, with its title then."""
    people(world)
    first = rec_in(world, "steering_review", title="Früh informieren")
    later = rec_in(world, "steering_review", title="Zurück an die AG")
    third = rec_in(world, "steering_review", title="Barrierefrei tagen")
    meeting = services.create_session(world.process.id, world.administrator, "3. Sitzung", "2026-03-14T18:30")
    services.add_ready(meeting.id, world.administrator)
    services.decide(meeting.id, world.administrator, first.id, "reject", "Zu teuer.", _version(first.id))
    services.close_session(meeting.id, world.administrator)
    services.fire(later.id, "send_back", world.administrator, "Bitte überarbeiten.", _version(later.id))
    assert db.session.get(Recommendation, later.id).state not in ("steering_review",)
    visitor = browser(None)
    visitor.get(f"/sessions/{meeting.id}")
    assert "Item 2: " in visitor.text and "Zurück an die AG" in visitor.text and "Item 3: " in visitor.text
    items = api.get(f"/sessions/{meeting.id}").json["items"]
    assert [i["position"] for i in items] == [1, 2, 3] and items[1]["at_closing"]["title"] == "Zurück an die AG"
    # On an open agenda, each item's buttons name that item to a screen reader (not 1, 2, 3 for each).
    rec_in(world, "steering_review", title="Vierte")
    open_session = services.create_session(world.process.id, world.administrator, "4. Sitzung", "2026-05-14T18:30")
    services.add_ready(open_session.id, world.administrator)
    admin = browser(world.administrator)
    admin.get(f"/sessions/{open_session.id}")
    item = admin.page.text.split('class="agenda-item"')[2].split("</li>")[0]
    assert item.count("(item 2)") == 3 and "(item 1)" not in item and "(item 3)" not in item


def test_the_administrator_who_decides_second_keeps_the_justification(world, people, browser, rec_in, make_user):
    people(world)
    rec = rec_in(world, "steering_review")
    meeting = services.create_session(world.process.id, world.administrator, "3. Sitzung", "2026-03-14T18:30")
    services.add_ready(meeting.id, world.administrator)
    page = f"/sessions/{meeting.id}"
    late = browser(world.administrator)
    late.get(page)
    version = _version(rec.id)
    services.decide(meeting.id, world.administrator, rec.id, "reject", "Zu teuer.", version)  # meanwhile
    events = audit_count()
    late.post(page + f"/decide/{rec.id}", {f"i{rec.id}-trigger": "adopt", f"i{rec.id}-confirm": "y",
                                          f"i{rec.id}-note": "Meine ausführliche Begründung für die Annahme.",
                                          f"i{rec.id}-version": str(version)}, status=422)
    assert audit_count() == events
    assert "Your justification was not saved" in late.text and "this item was decided in this session already" in late.text
    assert "Meine ausführliche Begründung für die Annahme." in late.text


def test_closing_saves_the_notes_typed_just_before(world, people, browser, rec_in):
    """The close button belongs to the minutes' form: notes typed and not yet saved are saved with
    the closing, and a closing not confirmed keeps them on the page."""
    people(world)
    meeting = services.create_session(world.process.id, world.administrator, "3. Sitzung", "2026-03-14T18:30")
    page = f"/sessions/{meeting.id}"
    admin = browser(world.administrator)
    admin.get(page)
    typed = {"place": "Rathaus", "participants": "Anna Admin", "notes": "Nächste Sitzung im Mai."}
    admin.post(page + "/close", typed, status=422)  # not confirmed
    assert "closing cannot be undone" in admin.text and "Nächste Sitzung im Mai." in admin.page.text
    assert db.session.get(SteeringSession, meeting.id).status == "open"
    admin.post(page + "/close", {**typed, "confirm": "yes"})
    db.session.expire_all()
    closed = db.session.get(SteeringSession, meeting.id)
    assert closed.status == "closed" and closed.notes == "Nächste Sitzung im Mai." and closed.place == "Rathaus"
    assert "Nächste Sitzung im Mai." in admin.text
