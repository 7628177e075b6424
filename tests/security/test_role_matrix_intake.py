"""Role matrix for public intake (docs/workflows.md, "Public intake"): every role against the form,
the submissions endpoint, and the confirmation and status links. Intake is for anyone; a process
whose workflow takes no submissions refuses everyone alike, and a refusal changes nothing."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import Submission
from tests.api.test_matrix import ROLES
from tests.conftest import audit_count, build_world
from tests.web.browser import Browser


def started_of(page_text: str) -> str:
    found = re.search(r'<input[^>]*name="started"[^>]*>', page_text)
    return re.search(r'value="([^"]+)"', found.group(0)).group(1)


def submissions() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Submission))


def test_every_role_on_public_intake(app, make_user, people, api):
    app.config.update(INTAKE_MIN_SECONDS=0, INTAKE_FREE_PER_ADDRESS=1000)
    world = people(build_world(make_user, "citizen-concern", "concerns"))
    closed = services.create_process("guidelines", "Guidelines", "citizen-recommendation")
    slug = world.process.slug
    for n, role in enumerate(ROLES):
        user = world.by_role(role)
        web = Browser(app).login(user) if user is not None else Browser(app)
        checks = {}
        page = web.client.get(f"/processes/{slug}")
        checks["form shown"] = ('name="website"' in page.text, True)
        checks["no form elsewhere"] = ('name="website"' in web.client.get(f"/processes/{closed.slug}").text, False)
        web.get(f"/processes/{slug}")
        fields = {"email": f"{role}.{n}@residents.example", "title": f"From {role}", "body": "B", "website": "",
                  "started": started_of(web.page.text)}
        before = submissions()
        sent = web.post(f"/processes/{slug}/submissions", fields, follow=False)
        checks["web submit"] = (sent.status_code, 303)
        checks["web stored"] = (submissions() - before, 1)
        answer = api.post(f"/processes/{slug}/submissions", user,
                          {"email": f"api.{role}.{n}@residents.example", "title": "T", "body": "B"})
        checks["api submit"] = (answer.status_code, 202)
        count, stored = audit_count(), submissions()
        checks["web closed"] = (web.post(f"/processes/{closed.slug}/submissions", fields, follow=False).status_code, 404)
        checks["api closed"] = (api.post(f"/processes/{closed.slug}/submissions", user,
                                         {"email": "x@residents.example", "title": "T", "body": "B"}).status_code, 404)
        checks["forged confirm"] = (web.client.get("/intake/confirm/" + "a" * 64).status_code, 404)
        checks["forged confirm post"] = (web.post("/intake/confirm/" + "a" * 64, {}, follow=False).status_code, 404)
        checks["forged status"] = (web.client.get("/intake/status/" + "a" * 64).status_code, 404)
        checks["nothing changed"] = ((audit_count(), submissions()), (count, stored))
        wrong = {name: pair for name, pair in checks.items() if pair[0] != pair[1]}
        assert not wrong, (role, wrong)


def test_the_form_needs_its_csrf_token(app, make_user):
    app.config.update(INTAKE_MIN_SECONDS=0)
    world = build_world(make_user, "citizen-concern", "concerns")
    typed = {"email": "a@residents.example", "title": "T", "body": "B"}
    # From our own page without a valid token (its session ended): not taken; what was typed comes back.
    refused = app.test_client().post(f"/processes/{world.process.slug}/submissions", data=typed)
    assert refused.status_code == 303 and refused.headers["Location"] == f"/processes/{world.process.slug}"
    # From another site: refused outright, nothing kept.
    forged = app.test_client().post(f"/processes/{world.process.slug}/submissions", data=typed,
                                    headers={"Origin": "https://evil.example"})
    assert forged.status_code == 400
    assert submissions() == 0
