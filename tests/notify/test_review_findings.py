"""Found by the review of issue 15: a mail the server cannot take fails alone, and a password set
through one link ends the person's other links."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from app import services
from app.errors import NotFound
from app.extensions import db
from app.models import Mail, UserToken, utcnow
from app.services import passwords

from .conftest import Inbox, free_port


@pytest.fixture
def plain_smtp():
    """An SMTP server that, like many, does not offer SMTPUTF8."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{port}"
    controller.stop()


def test_a_non_ascii_address_does_not_hold_back_the_other_mails(app, plain_smtp):
    inbox, url = plain_smtp
    app.config.update(SMTP_URL=url, MAIL_RETRY_SECONDS=0)
    from app.notify import worker

    services.invite_user("jürgen@exämple.de", "Jürgen")
    services.invite_user("ascii@example.org", "Ascii")
    for _round in range(3):
        worker.run_once()
        db.session.execute(update(Mail).where(Mail.status == "pending").values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert inbox.to("ascii@example.org"), "the ASCII invitation is never sent while the non-ASCII one waits before it"
    failed = db.session.query(Mail).filter(Mail.status == "failed").one()
    assert "SMTPUTF8" in failed.last_error and db.session.query(Mail).filter(Mail.status == "pending").count() == 0


def test_a_password_reset_ends_an_unused_invitation_link(app):
    user = services.invite_user("iris@example.org", "Iris")
    invitation = db.session.query(UserToken).filter_by(user_id=user.id, purpose="invitation").one()
    invitation_secret = passwords.link_secret(invitation)
    services.request_password_reset("iris@example.org")
    reset = db.session.query(UserToken).filter_by(user_id=user.id, purpose="password_reset").one()
    services.set_password_with_link(passwords.link_secret(reset), "Marble-Heron-5512")
    db.session.expire_all()
    with pytest.raises(NotFound):
        passwords.token_for(invitation_secret)  # "a reset ends all sessions and tokens"
