"""Role matrix for the overview of procedures, the legal pages and the process API: every role
against every new page and write, and a refused write changes nothing."""
from __future__ import annotations

from app import services
from app.extensions import db
from app.models import Process
from tests.api.test_matrix import ROLES
from tests.conftest import audit_count
from tests.web.browser import Browser

#: Who may keep a process's overview: superusers and the process's own administrators.
KEEPERS = {"superuser", "administrator"}
PUBLIC_PAGES = ["/", "/processes", "/processes?status=planned", "/imprint", "/privacy", "/accessibility"]


def test_every_role_on_the_overview_and_legal_pages(app, world, people, api):
    people(world)
    # An administrator of another process is no keeper of this one.
    services.grant_role(world.other_process, world.outsider, "administrator")
    slug = world.process.slug
    for role in ROLES:
        user = world.by_role(role)
        web = Browser(app).login(user) if user is not None else Browser(app)
        checks = {}
        for url in PUBLIC_PAGES + [f"/processes/{slug}"]:
            checks[url] = (web.client.get(url).status_code, 200)
        checks["api list"] = (api.get("/processes", user).status_code, 200)
        checks["api one"] = (api.get(f"/processes/{slug}", user).status_code, 200)
        edit = web.client.get(f"/processes/{slug}/overview")
        checks["edit page"] = (edit.status_code, 302 if user is None else 200 if role in KEEPERS else 403)
        if user is None:
            checks["to login"] = ("/login" in edit.headers["Location"], True)
        web.get("/login")
        before = audit_count()
        sent = web.post(f"/processes/{slug}/overview",
                        {"status": "finished", "description": f"By {role}", "starts_on": "", "ends_on": "",
                         "participation": "", "contact": "", "links": ""}, follow=False)
        # Signed out: what was typed is kept and the person sent to sign in (app/web/stash.py): 303.
        checks["save"] = (sent.status_code, 303 if user is None else 302 if role in KEEPERS else 403)
        db.session.expire_all()
        process = db.session.get(Process, world.process.id)
        changed = process.description == f"By {role}"
        checks["changed"] = (changed, role in KEEPERS)
        checks["audited"] = (audit_count() - before, 1 if role in KEEPERS else 0)
        if changed:
            services.update_overview(world.process.id, None, status="running")  # back for the next role
        checks["admin page"] = (web.client.get(f"/admin/processes/{slug}").status_code,
                                302 if user is None else 200 if role == "superuser" else 403)
        wrong = {name: pair for name, pair in checks.items() if pair[0] != pair[1]}
        assert not wrong, (role, wrong)


def test_the_edit_form_needs_its_csrf_token(app, world, people):
    people(world)
    admin = Browser(app).login(world.administrator)
    refused = admin.client.post(f"/processes/{world.process.slug}/overview", data={"status": "finished"},
                                headers={"Referer": f"http://ratschlag.test/processes/{world.process.slug}/overview"})
    # Not accepted: what was typed comes back on the form, to be sent again with a fresh token.
    assert refused.status_code == 303 and refused.headers["Location"].endswith("/overview")
    db.session.expire_all()
    assert db.session.get(Process, world.process.id).status == "running"


def test_every_role_gets_the_same_public_open_data_and_feeds(app, world, people, rec_in):
    people(world)
    rec_in(world, "adopted", title="Öffentlich entschieden")
    rec_in(world, "draft", title="Entwurf der Autorin")
    rec_in(world, "submitted", title="Eingereicht, nur für die Gruppe")
    slug = world.process.slug
    urls = [f"/processes/{slug}/open-data.json", f"/processes/{slug}/recommendations.csv",
            f"/processes/{slug}/statements.csv", f"/processes/{slug}/decisions.atom", f"/processes/{slug}/new.atom"]
    seen = {}
    for role in ROLES:
        user = world.by_role(role)
        web = Browser(app).login(user) if user is not None else Browser(app)
        for url in urls:
            response = web.client.get(url, buffered=True)
            assert response.status_code == 200, (role, url)
            body = response.get_data(as_text=True)
            assert "Entwurf der Autorin" not in body and "nur für die Gruppe" not in body, (role, url)
            seen.setdefault(url, set()).add(body)
    assert "Öffentlich entschieden" in next(iter(seen[urls[0]]))
    assert all(len(bodies) == 1 for bodies in seen.values()), {u: len(b) for u, b in seen.items()}
