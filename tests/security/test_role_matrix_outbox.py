"""Role matrix for the outbox's "send again" (issue 15): only a superuser may queue a failed mail
again, one or all; every other role is refused, the signed-out sent to sign in, and a refusal
changes nothing."""
from __future__ import annotations

import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import Mail
from app.services import notifications
from tests.api.test_matrix import ROLES
from tests.web.browser import Browser


def mails() -> list[tuple]:
    db.session.rollback()
    return [(m.id, m.status, m.attempts, m.next_attempt_at) for m in db.session.scalars(sa.select(Mail).order_by(Mail.id))]


def fail_one(world) -> int:
    rec = services.create_recommendation(world.process.id, world.author, "R", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    notifications.route_pass()
    mail_id = db.session.scalars(sa.select(Mail.id).where(Mail.status == "pending").order_by(Mail.id.desc())).first()
    notifications.finish_mails([(mail_id, "failed", "550 no such mailbox", None)])
    return mail_id


def test_every_role_on_sending_failed_mails_again(app, world, people):
    people(world)
    for role in ROLES:
        failed = fail_one(world)
        user = world.by_role(role)
        web = Browser(app).login(user) if user is not None else Browser(app)
        web.get("/login" if user is None else "/")
        before = mails()
        checks = {}
        for url in (f"/admin/outbox/{failed}/requeue", "/admin/outbox/requeue-failed"):
            answer = web.client.post(url, data={"csrf_token": web.token()})
            if role == "superuser":
                expected = 302
            elif user is None:
                expected = answer.status_code if answer.status_code in (302, 303) else 302
                checks[f"{url} to login"] = ("/login" in answer.headers.get("Location", ""), True)
            else:
                expected = 403
            checks[url] = (answer.status_code, expected)
            if role != "superuser":
                checks[f"{url} changed nothing"] = (mails() == before, True)
        db.session.rollback()
        checks["queued again"] = (db.session.get(Mail, failed).status, "pending" if role == "superuser" else "failed")
        wrong = {name: pair for name, pair in checks.items() if pair[0] != pair[1]}
        assert not wrong, (role, wrong)
        notifications.finish_mails([(failed, "sent", None, None)])  # out of the way for the next role
