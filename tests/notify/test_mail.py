"""E-mail end to end: the services queue, ``ratschlag worker --once`` sends to a real SMTP server
(aiosmtpd on a loopback port), and the tests read what it received."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import services
from app.extensions import db
from app.errors import ValidationError
from app.models import DeadlineMark, Mail, Notification, NotificationSetting, Recommendation, User, utcnow
from app.notify import mail as mail_text
from app.notify import worker
from app.services import notifications
from tests.conftest import build_world, path_to


def addresses(inbox) -> set[str]:
    return {to for r in inbox.received for to in r.recipients}


def fire_path(world, rec, target: str, workflow):
    for _source, transition in path_to(workflow, target):
        role = transition.roles[0]
        actor = world.author if role in ("author", "member") else world.by_role(role)
        rec = services.fire(rec.id, transition.trigger, actor, "Because it is right.", rec.version)
    return rec


def test_each_step_of_the_recommendation_workflow_tells_the_right_people(world, inbox, work):
    rec = services.create_recommendation(world.process.id, world.author, "Announce early", "Six weeks ahead.")
    services.add_author(rec.id, world.author, world.coauthor)
    work()
    # the invitee is told at once (authored): it is theirs to write now
    invitation = inbox.to(world.coauthor.email)[0]
    assert "Author invited you as a co-author of “Announce early”." in invitation.text
    assert "https://ratschlag.example.org/processes/guidelines/recommendations/1" in invitation.text
    inbox.clear()

    rec = services.fire(rec.id, "submit", world.author, None, 2)
    assert work()["sent"] == 2
    # the co-author is told (authored), the moderator may act now (your_turn); the author acted and hears nothing
    assert addresses(inbox) == {world.coauthor.email, world.moderator.email}
    to_moderator = inbox.to(world.moderator.email)[0]
    assert "it is your turn" in to_moderator.text and "Announce early" in to_moderator.message["Subject"]
    assert "https://ratschlag.example.org/processes/guidelines/recommendations/1" in to_moderator.text
    inbox.clear()

    rec = services.fire(rec.id, "start_moderation", world.moderator, None, rec.version)
    work()
    # authors hear of it; the moderator acted; members see it but may do nothing, so they hear nothing
    assert addresses(inbox) == {world.author.email, world.coauthor.email}
    inbox.clear()

    rec = services.fire(rec.id, "return_to_authors", world.moderator, "Please shorten it.", rec.version)
    work()
    assert addresses(inbox) == {world.author.email, world.coauthor.email}
    assert "Note: Please shorten it." in inbox.to(world.author.email)[0].text
    inbox.clear()

    rec = fire_path(world, rec, "steering_review", services.workflow_of(world.process))
    work()
    assert world.administrator.email in addresses(inbox)  # the steering round decides now
    assert world.outsider.email not in addresses(inbox) and world.member.email not in addresses(inbox)


def test_the_concern_workflow_tells_moderators_of_a_new_concern_and_authors_of_the_answer(concern_world, inbox, work):
    world = concern_world
    rec = services.create_recommendation(world.process.id, world.author, "Streetlight broken", "Since May.")
    work()
    assert addresses(inbox) == {world.moderator.email}  # a new concern waits for triage
    inbox.clear()
    rec = services.fire(rec.id, "triage", world.moderator, None, rec.version)
    rec = services.fire(rec.id, "forward", world.moderator, None, rec.version)
    work()
    assert world.administrator.email in addresses(inbox) and world.author.email in addresses(inbox)
    inbox.clear()
    services.fire(rec.id, "answer", world.administrator, "Repaired on Monday.", rec.version)
    work()
    # the author hears of the answer; the administrator answered and hears nothing
    assert world.author.email in addresses(inbox) and world.administrator.email not in addresses(inbox)
    assert "Repaired on Monday." in inbox.to(world.author.email)[0].text


def test_headers_language_and_stable_message_id(world, inbox, work):
    services.save_notification_settings(world.moderator, {}, "de")
    rec = services.create_recommendation(world.process.id, world.author, "Früh ankündigen", "Sechs Wochen.")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    work()
    [mail] = inbox.to(world.moderator.email)
    message = mail.message
    assert message.get_content_type() == "text/plain" and message.get_content_charset() == "utf-8"
    assert "„Früh ankündigen“ ist jetzt Eingereicht: Sie sind an der Reihe." in mail.text  # German for this person
    assert message["Content-Language"] == "de"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https://ratschlag\.example\.org/unsubscribe/[^>\s]+>", message["List-Unsubscribe"])
    # on the wire as one literal line, as mail programs read it (not RFC 2047-encoded)
    assert re.search(rb"\r?\nList-Unsubscribe: <https://ratschlag\.example\.org/unsubscribe/[^>\s]+>\r?\n", mail.raw)
    assert b"\nList-Unsubscribe-Post: List-Unsubscribe=One-Click" in mail.raw
    stored = db.session.scalar(sa.select(Mail).where(Mail.user_id == world.moderator.id))
    assert message["Message-ID"] == stored.message_id and stored.status == "sent"
    assert work() == {"reminders": 0, "digests": 0}  # nothing is sent twice


def test_one_click_unsubscribe_turns_off_that_kind_for_that_person_only(world, inbox, work, client):
    rec = services.create_recommendation(world.process.id, world.author, "A", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    work()
    header = inbox.to(world.moderator.email)[0].message["List-Unsubscribe"]
    path = header.strip("<>").replace("https://ratschlag.example.org", "")
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})  # no session, no CSRF token
    assert response.status_code == 204
    assert services.notification_modes(world.moderator.id)["your_turn"] == "off"
    assert services.notification_modes(world.moderator.id)["report"] == "immediate"
    assert services.notification_modes(world.administrator.id)["your_turn"] == "immediate"
    inbox.clear()
    services.fire(rec.id, "start_moderation", world.moderator, None, rec.version)
    rec2 = services.create_recommendation(world.process.id, world.author, "C", "D")
    services.fire(rec2.id, "submit", world.author, None, rec2.version)
    work()
    assert world.moderator.email not in addresses(inbox)
    # the in-app list still shows it
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(Notification.user_id == world.moderator.id, Notification.kind == "your_turn")) == 2


def test_a_mail_still_waiting_is_not_sent_after_its_kind_was_turned_off(world, inbox, work, client, app):
    """Found by the review of issue 15: a mail queued while the mail server was down still went out
    after the one-click unsubscribe answered 204. Turned off means from then on."""
    from app.models import Mail
    rec = services.create_recommendation(world.process.id, world.author, "A", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    work()
    header = inbox.to(world.moderator.email)[0].message["List-Unsubscribe"]
    inbox.clear()
    rec2 = services.create_recommendation(world.process.id, world.author, "C", "D")
    services.fire(rec2.id, "submit", world.author, None, rec2.version)
    notifications_pass = __import__("app.services.notifications", fromlist=["route_pass"]).route_pass
    notifications_pass()  # queued, not yet sent (the server is down, say)
    waiting = db.session.scalar(sa.select(sa.func.count()).select_from(Mail).where(
        Mail.user_id == world.moderator.id, Mail.status == "pending"))
    assert waiting >= 1
    path = header.strip("<>").replace("https://ratschlag.example.org", "")
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 204
    work()
    assert world.moderator.email not in addresses(inbox)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mail).where(
        Mail.user_id == world.moderator.id, Mail.status == "skipped")) == waiting


def test_forged_or_altered_unsubscribe_links_change_nothing(world, client, app):
    good = notifications.unsubscribe_token(world.moderator.id, "your_turn")
    import base64
    other_payload = base64.urlsafe_b64encode(f'[{world.administrator.id},"your_turn"]'.encode()).decode().rstrip("=")
    forged = [good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "x", "a" * 600,
              other_payload + "." + good.split(".")[1]]  # another person's id under this person's signature
    from itsdangerous import URLSafeSerializer
    forged.append(URLSafeSerializer("wrong-key", salt="ratschlag.unsubscribe").dumps([world.administrator.id, "your_turn"]))
    forged.append(notifications.unsubscribe_token(world.moderator.id, "everything"))
    before = db.session.scalar(sa.select(sa.func.count()).select_from(NotificationSetting))
    for token in forged:
        assert client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 404, token
        assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NotificationSetting)) == before == 0


def test_a_server_that_is_down_keeps_the_mail_until_it_is_back(world, smtp, inbox, work, app):
    app.config["MAIL_RETRY_SECONDS"] = 0
    rec = services.create_recommendation(world.process.id, world.author, "A", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    smtp.stop()
    counts = work()
    assert counts.get("sent", 0) == 0 and counts["pending"] == 1
    mail = db.session.scalar(sa.select(Mail).where(Mail.user_id == world.moderator.id))
    assert mail.status == "pending" and mail.attempts == 1 and "unavailable" in mail.last_error
    smtp.start()
    assert work()["sent"] == 1
    assert [r.message["Message-ID"] for r in inbox.received] == [mail.message_id]


def test_backoff_waits_before_the_next_attempt(world, smtp, work, app):
    rec = services.create_recommendation(world.process.id, world.author, "A", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    smtp.stop()
    work()
    smtp.start()
    assert work().get("sent", 0) == 0  # the next attempt is a minute away
    mail = db.session.scalar(sa.select(Mail).where(Mail.user_id == world.moderator.id))
    assert mail.next_attempt_at > utcnow() + timedelta(seconds=30)


def test_a_permanent_refusal_fails_that_mail_and_the_rest_go_out(world, inbox, work, client, people):
    inbox.refuse[world.coauthor.email] = "550 5.1.1 no such mailbox"
    rec = services.create_recommendation(world.process.id, world.author, "A", "B")
    services.add_author(rec.id, world.author, world.coauthor)
    services.fire(rec.id, "submit", world.author, None, rec.version)
    counts = work()
    assert counts["failed"] == 2 and counts["sent"] == 1  # the co-author's invitation and the step; the moderator's
    assert addresses(inbox) == {world.moderator.email}
    failed = db.session.scalars(sa.select(Mail).where(Mail.status == "failed")).all()
    assert {m.user_id for m in failed} == {world.coauthor.id} and all("550" in m.last_error for m in failed)
    # superusers see it
    from tests.web.browser import Browser
    people(world)
    page = Browser(client.application).login(world.superuser).get("/admin/outbox?status=failed")
    assert world.coauthor.email in page.text and "550" in page.text


def test_a_message_refused_after_data_fails_or_waits_alone_and_the_rest_go_out(world, inbox, work):
    """Every smtplib error is an OSError: a 554 (spam) or 451 answer to the message itself was taken
    for a server that is down, so the refused mail stayed pending forever and held back the mails
    behind it. It is an answer about that mail: 5xx fails it, 4xx lets it wait, the rest go out."""
    inbox.refuse_data[world.coauthor.email] = "554 5.7.1 rejected as spam"
    rec = services.create_recommendation(world.process.id, world.author, "A", "B")
    services.add_author(rec.id, world.author, world.coauthor)
    services.fire(rec.id, "submit", world.author, None, rec.version)
    counts = work()
    assert counts["failed"] == 2 and counts["sent"] == 1 and addresses(inbox) == {world.moderator.email}
    failed = db.session.scalars(sa.select(Mail).where(Mail.status == "failed")).all()
    assert {m.user_id for m in failed} == {world.coauthor.id} and all("554" in m.last_error for m in failed)

    inbox.clear()
    inbox.refuse_data[world.moderator.email] = "451 4.3.0 try again later"
    rec = services.create_recommendation(world.process.id, world.author, "C", "D")
    services.add_author(rec.id, world.author, world.coauthor)
    services.fire(rec.id, "submit", world.author, None, rec.version)
    counts = work()
    assert counts["failed"] == 2  # the co-author's two, whatever the order: the 451 held nothing back
    waiting = db.session.scalars(sa.select(Mail).where(Mail.user_id == world.moderator.id, Mail.status != "sent")).one()
    assert waiting.status == "pending" and "451" in waiting.last_error and waiting.next_attempt_at > utcnow()


def test_a_worker_killed_mid_batch_sends_everything_and_only_the_one_in_flight_twice(world, inbox, work, monkeypatch):
    for n in range(4):
        rec = services.create_recommendation(world.process.id, world.author, f"R{n}", "B")
        services.fire(rec.id, "submit", world.author, None, rec.version)
    # a worker claims a mail, sends it, and is killed before it can record that
    notifications.route_pass()
    claimed = notifications.claim_mail()
    sender = worker.transport()
    sender.send(mail_text.compose(db.session.get(Mail, claimed)), db.session.get(Mail, claimed))
    sender.close()
    db.session.rollback()
    assert work()["sent"] == 3  # the others go out at once; the one in flight waits for its lease
    later = utcnow() + timedelta(minutes=10)
    monkeypatch.setattr(notifications, "utcnow", lambda: later)
    assert work()["sent"] == 1
    ids = [r.message["Message-ID"] for r in inbox.received]
    assert len(ids) == 5 and len(set(ids)) == 4  # every mail arrived; only the one in flight came twice
    assert work() == {"reminders": 0, "digests": 0}


def test_several_workers_send_each_mail_once(world, inbox, app):
    for n in range(12):
        rec = services.create_recommendation(world.process.id, world.author, f"R{n}", "B")
        services.fire(rec.id, "submit", world.author, None, rec.version)
    db.session.rollback()
    errors = []

    def one_worker():
        try:
            with app.app_context():
                sender = worker.transport()
                worker.drain(sender)
                sender.close()
                db.session.remove()
        except Exception as error:  # noqa: BLE001 — reported below
            errors.append(error)

    threads = [threading.Thread(target=one_worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = [r.message["Message-ID"] for r in inbox.received]
    assert len(ids) == 12 and len(set(ids)) == 12


def test_header_injection_and_non_ascii_addresses_are_handled(make_user, inbox, work):
    with pytest.raises(ValidationError, match="single line"):  # refused at the door now ...
        make_user("Evil\r\nBcc: victim@example.org")
    world_author = make_user("Evil", email="jörg@example.org")
    moderator = make_user("Möderator", email="möderator@exämple.org")
    process = services.create_process("inj", "Injection", "citizen-recommendation")
    services.grant_role(process, world_author, "member")
    services.grant_role(process, moderator, "moderator")
    rec = services.create_recommendation(process.id, world_author, "Title", "Body")
    # ... but a name and a title stored before that still must not reach a header as they are
    db.session.execute(sa.update(User).where(User.id == world_author.id).values(name="Evil\r\nBcc: victim@example.org"))
    db.session.execute(sa.update(Recommendation).where(Recommendation.id == rec.id).values(title="Title\r\nBcc: victim@example.org"))
    db.session.commit()
    services.fire(rec.id, "submit", world_author, None, rec.version)
    assert work()["sent"] == 1
    [received] = inbox.received
    assert received.recipients == ["möderator@exämple.org"]
    assert received.message["Bcc"] is None and "victim" not in "".join(received.recipients)
    assert "\n" not in received.message["Subject"] and "Title Bcc" in received.message["Subject"]


def test_nobody_is_mailed_about_what_they_can_no_longer_see(world, inbox, work):
    rec = services.create_recommendation(world.process.id, world.author, "A", "B")
    rec = services.fire(rec.id, "submit", world.author, None, rec.version)
    rec = services.fire(rec.id, "start_moderation", world.moderator, None, rec.version)
    comment = services.create_comment(rec.id, world.member, "First")
    services.create_comment(rec.id, world.author, "A reply", parent_id=comment.id)  # queues a reply to the member
    services.hide_comment(services.create_comment(rec.id, world.moderator, "x").id, world.moderator, "r")
    reply = db.session.scalar(sa.select(Notification).where(Notification.kind == "reply"))
    services.hide_comment(reply.comment_id, world.moderator, "Off topic")
    work()
    assert world.member.email not in addresses(inbox)
    assert db.session.get(Mail, reply.mail_id).status == "skipped"


def test_reports_reach_the_moderators_and_statements_the_department(world, make_user, inbox, work, rec_in):
    rec = rec_in(world, "steering_review")
    work()
    inbox.clear()
    comment = services.create_comment(rec.id, world.member, "Rude")
    services.report_comment(comment.id, world.coauthor, "Insulting")
    clerk = make_user("Clerk")
    department = services.create_department("roads", "Roads office")
    services.add_department_member(department, clerk)
    services.request_statement(rec.id, world.administrator, "roads", "Is it feasible?")
    work()
    assert addresses(inbox) == {world.moderator.email, clerk.email}
    assert "reported" in inbox.to(world.moderator.email)[0].text
    assert "Roads office" in inbox.to(clerk.email)[0].text


def test_deadline_reminders_and_overdue_escalations_are_sent_once(world, inbox, work, rec_in, app):
    rec = rec_in(world, "steering_review")
    work()
    inbox.clear()
    due = rec.due_at
    assert notifications.deadline_pass(now=due - timedelta(days=8)) == 0
    assert notifications.deadline_pass(now=due - timedelta(days=6)) == 1  # the administrator may decide
    assert notifications.deadline_pass(now=due - timedelta(days=5)) == 0
    assert notifications.deadline_pass(now=due + timedelta(seconds=1)) == 1
    assert notifications.deadline_pass(now=due + timedelta(days=3)) == 0
    work()
    mails = inbox.to(world.administrator.email)
    assert len(mails) == 2 and "is due on" in mails[0].text and "overdue" in mails[1].text
    assert addresses(inbox) == {world.administrator.email}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DeadlineMark)) == 2


def test_the_worker_runs_the_reminder_pass_itself_and_twice_sends_nothing_twice(world, inbox, work, rec_in, app):
    app.config["REMINDER_DAYS"] = 50  # the 42-day deadline is within reach at once
    rec_in(world, "steering_review")
    first = work()
    assert first["reminders"] == 1
    assert work()["reminders"] == 0


def test_followers_get_a_daily_digest(world, inbox, work, rec_in, app, make_user):
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Berlin"
    fan = make_user("Fan")
    rec = rec_in(world, "steering_review")
    notifications.route_pass()
    services.follow(fan, recommendation_id=rec.id)
    services.create_comment(rec.id, world.member, "I agree")
    services.create_comment(rec.id, world.moderator, "Noted")
    assert notifications.route_pass() == 0  # followed: for the digest, no mail of its own
    early = utcnow().replace(hour=3, minute=0) + timedelta(days=1)  # 04:00 or 05:00 in Berlin: before the digest hour
    assert notifications.digest_pass(now=early) == 0
    late = early.replace(hour=12)
    assert notifications.digest_pass(now=late) == 1
    assert notifications.digest_pass(now=late + timedelta(hours=1)) == 0  # once a day
    work()
    [digest] = inbox.to(fan.email)
    assert "2 news of the day" in digest.message["Subject"]
    assert digest.text.count("commented on") == 2
    assert "/unsubscribe/" in digest.message["List-Unsubscribe"]


def test_without_an_smtp_url_mails_are_written_as_files(world, app, tmp_path, work):
    app.config["SMTP_URL"] = ""
    app.config["MAIL_DIR"] = str(tmp_path / "mail")
    rec = services.create_recommendation(world.process.id, world.author, "A", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    assert work()["sent"] == 1
    [written] = list((tmp_path / "mail").glob("*.eml"))
    assert world.moderator.email in written.read_text()


def test_a_server_that_goes_down_mid_batch_loses_nothing_and_counts_no_untried_attempt(world, smtp, inbox, work, app):
    app.config["MAIL_RETRY_SECONDS"] = 0
    for n in range(5):
        rec = services.create_recommendation(world.process.id, world.author, f"R{n}", "B")
        services.fire(rec.id, "submit", world.author, None, rec.version)
    smtp.stop()
    assert work()["pending"] == 1  # the first attempt fails, the rest of the batch is given back untried
    mails = db.session.scalars(sa.select(Mail).order_by(Mail.id)).all()
    assert [m.status for m in mails] == ["pending"] * 5
    assert [m.attempts for m in mails] == [1, 0, 0, 0, 0]
    smtp.start()
    assert work()["sent"] == 5
    assert len({r.message["Message-ID"] for r in inbox.received}) == 5


def test_on_sqlite_a_second_worker_is_refused(app, database):
    if database.backend != "sqlite":
        pytest.skip("PostgreSQL takes several workers")
    with worker.single_sqlite_worker():
        with pytest.raises(RuntimeError, match="another worker is running"):
            with worker.single_sqlite_worker():
                pass
    with worker.single_sqlite_worker():  # free again once the first is done
        pass


def test_a_batch_records_each_outcome_and_a_server_going_down_gives_the_rest_back(world, smtp, inbox, app):
    inbox.refuse[world.coauthor.email] = "550 5.1.1 no such mailbox"
    rec = services.create_recommendation(world.process.id, world.author, "A", "B")
    services.add_author(rec.id, world.author, world.coauthor)
    services.fire(rec.id, "submit", world.author, None, rec.version)  # mails the co-author and the moderator
    for n in range(3):
        rec = services.create_recommendation(world.process.id, world.author, f"R{n}", "B")
        services.fire(rec.id, "submit", world.author, None, rec.version)
    notifications.route_pass()
    sender = worker.transport()
    sent_so_far = []
    real_send = sender.send

    def send_then_fall_over(message, mail):
        if len(sent_so_far) == 3:
            smtp.stop()
        sent_so_far.append(mail.id)
        return real_send(message, mail)

    sender.send = send_then_fall_over
    counts = worker.drain(sender, batch=10)
    sender.close()
    db.session.rollback()
    # the first three were tried (the co-author's invitation and submission refused for good), the fourth
    # met a server that was gone, the last two were given back untried: their attempts do not count
    assert counts == {"sent": 1, "failed": 2, "pending": 1}
    rows = db.session.execute(sa.select(Mail.status, Mail.attempts).order_by(Mail.id)).all()
    assert sorted(rows) == sorted([("sent", 1), ("failed", 1), ("failed", 1), ("pending", 1), ("pending", 0), ("pending", 0)])
    assert db.session.scalar(sa.select(Mail.last_error).where(Mail.status == "failed")).startswith("recipient refused")


def test_the_html_part_is_the_same_text_escaped_and_optional(world, make_user, inbox, work, app):
    rec = services.create_recommendation(world.process.id, world.author, "Tags <b>bold</b> & \"quotes\"", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    work()
    [plain_only] = inbox.to(world.moderator.email)
    assert not plain_only.message.is_multipart() and plain_only.message.get_content_type() == "text/plain"
    inbox.clear()

    app.config["MAIL_HTML"] = "true"
    rec = services.create_recommendation(world.process.id, world.author, "<script>alert(1)</script> & more", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    work()
    [received] = inbox.to(world.moderator.email)
    assert received.message.get_content_type() == "multipart/alternative"
    plain = received.message.get_body(("plain",)).get_content()
    html = received.message.get_body(("html",)).get_content()
    assert "<script>alert(1)</script> & more" in plain
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    link = "https://ratschlag.example.org/processes/guidelines/recommendations/"
    assert f'<a href="{link}' in html and link in plain
    assert received.message["Content-Language"] == html.split('lang="')[1][:2]
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_two_workers_queueing_one_digest_at_once_do_not_crash(world, inbox, rec_in, app, make_user, monkeypatch):
    """Found by the review of issue 15: on PostgreSQL the worker that lost the race for a person's
    digest exited with an IntegrityError on the mail's dedupe key. The loser now skips that person."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take turns: the race is PostgreSQL's")
    import sqlalchemy as sa
    fan = make_user("Fan")
    rec = rec_in(world, "steering_review")
    notifications.route_pass()
    services.follow(fan, recommendation_id=rec.id)
    services.create_comment(rec.id, world.member, "I agree")
    notifications.route_pass()
    real = notifications.new_mail

    def the_other_worker_first(session, uid, kind, **fields):  # commits the same digest between check and insert
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as other:
            other.execute(sa.text("INSERT INTO mails (user_id, kind, status, attempts, dedupe_key, message_id, created_at, "
                                  "next_attempt_at) VALUES (:u, 'digest', 'pending', 0, :k, :m, now(), now())"),
                          {"u": uid, "k": fields["dedupe_key"], "m": "<other-worker@example.org>"})
        return real(session, uid, kind, **fields)
    waiting = db.session.scalar(sa.text("SELECT count(*) FROM notifications WHERE delivery = 'digest' AND mail_id IS NULL"))
    assert waiting >= 1, waiting
    monkeypatch.setattr(notifications, "new_mail", the_other_worker_first)
    late = utcnow().replace(hour=12, minute=0) + timedelta(days=1)  # the next day: the comment came before its digest hour
    assert notifications.digest_pass(now=late) == 0
    assert db.session.scalar(sa.text("SELECT count(*) FROM mails WHERE kind = 'digest'")) == 1
