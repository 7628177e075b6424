"""The overview of procedures: kept by superusers and a process's administrators, shown to everyone."""
from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from app import services
from app.errors import Forbidden, ValidationError
from app.extensions import db
from app.models import AuditEvent, Process
from tests.conftest import audit_count
from tests.web.browser import Browser

GOOD = {
    "description": "We plan the **new square** together.\n\n<script>alert(1)</script>",
    "status": "planned", "starts_on": "2027-03-01", "ends_on": "2027-06-30", "participation": "consult",
    "contact": "Kim Berger, Büro für Bürgerbeteiligung\nberger@example.org",
    "links": "https://example.org/plan Development plan\nhttps://example.org/faq",
}


def fresh(process_id: int) -> Process:
    db.session.expire_all()
    return db.session.get(Process, process_id)


def test_an_administrator_keeps_the_overview_and_everyone_reads_it(app, world, people):
    people(world)
    admin = Browser(app).login(world.administrator)
    admin.get(f"/processes/{world.process.slug}")
    assert "Edit the overview of this procedure" in admin.text
    admin.get(f"/processes/{world.process.slug}/overview")
    before = audit_count()
    admin.post(f"/processes/{world.process.slug}/overview", GOOD, status=200)
    assert "The overview of “Participation guidelines” is saved." in admin.text
    process = fresh(world.process.id)
    assert (process.status, process.starts_on, process.ends_on, process.participation) == \
        ("planned", date(2027, 3, 1), date(2027, 6, 30), "consult")
    assert process.links == [{"title": "Development plan", "url": "https://example.org/plan"},
                             {"title": "https://example.org/faq", "url": "https://example.org/faq"}]
    assert "<strong>new square</strong>" in process.description_html and "<script" not in process.description_html
    # one audit event, as the other process changes are audited, with before and after
    assert audit_count() == before + 1
    event = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (event.action, event.subject_type, event.subject_id, event.actor_id) == \
        ("process.updated", "process", world.process.id, world.administrator.id)
    changes = json.loads(event.data)["changes"]
    assert changes["status"] == ["running", "planned"] and changes["starts_on"] == [None, "2027-03-01"]
    assert changes["links"][0] == [] and changes["links"][1][1]["url"] == "https://example.org/faq" and "description_html" not in changes

    visitor = Browser(app)
    visitor.get(f"/processes/{world.process.slug}")
    assert "new square" in visitor.text and "Kim Berger" in visitor.text and "Consult".lower() in visitor.text.lower()
    assert 'href="https://example.org/plan"' in visitor.page.text and "Development plan" in visitor.text
    assert "<script>alert" not in visitor.page.text
    # the description is a person's text: styled and scoped like one (headings, tables), not like the page
    assert '<div class="description body"><p>We plan the <strong>new square</strong>' in visitor.page.text
    assert "Edit the overview" not in visitor.text
    visitor.get("/processes")
    assert "Participation guidelines" in visitor.text and "Kim Berger" in visitor.text and "planned" in visitor.text
    visitor.get("/")
    assert "planned" in visitor.text and "Overview of procedures" in visitor.text

    # saving the same again records nothing
    admin.get(f"/processes/{world.process.slug}/overview")
    assert "https://example.org/plan Development plan" in admin.page.text
    admin.post(f"/processes/{world.process.slug}/overview", GOOD, status=200)
    assert audit_count() == before + 1


@pytest.mark.parametrize("change, field_message", [
    ({"ends_on": "2027-02-01"}, "the end date lies before the start date"),
    ({"status": "cancelled"}, "unknown status 'cancelled'"),
    ({"participation": "veto"}, "unknown level of participation 'veto'"),
    ({"starts_on": "1.3.2027"}, "is not a date (write it as YYYY-MM-DD)"),
    ({"contact": "x" * 501}, "Field cannot be longer than 500 characters."),
    ({"links": "javascript:alert(1) Click"}, "is not an http or https address"),
    ({"links": "\n".join(f"https://example.org/{n}" for n in range(11))}, "at most 10 links"),
    ({"description": "x" * 6_001}, "At most 6,000 characters. Please shorten the text."),
])
def test_bad_input_is_refused_with_a_clear_error_and_changes_nothing(app, world, people, change, field_message):
    people(world)
    admin = Browser(app).login(world.administrator)
    admin.get(f"/processes/{world.process.slug}/overview")
    before = audit_count()
    admin.post(f"/processes/{world.process.slug}/overview", {**GOOD, **change}, status=422)
    assert field_message in admin.text
    assert admin.redirected_to == f"/processes/{world.process.slug}/overview"  # post/redirect/get, typed text kept
    assert 'aria-invalid="true"' in admin.page.text  # the error sits at its field
    process = fresh(world.process.id)
    assert (process.status, process.description, process.starts_on, process.links) == ("running", "", None, [])
    assert audit_count() == before


def test_a_superuser_keeps_it_on_the_admin_process_page(app, world, people):
    people(world)
    superuser = Browser(app).login(world.superuser)
    superuser.get(f"/admin/processes/{world.process.slug}")
    assert "In the overview of procedures" in superuser.text and "Level of participation" in superuser.text
    assert f'action="/processes/{world.process.slug}/overview"' in superuser.page.text
    superuser.post(f"/processes/{world.process.slug}/overview", {**GOOD, "status": "finished"}, status=200)
    assert fresh(world.process.id).status == "finished"


def test_members_and_moderators_may_not_and_the_service_says_so(app, world):
    for user in (world.member, world.moderator, world.outsider):
        with pytest.raises(Forbidden):
            services.update_overview(world.process.id, user, status="finished")
    assert fresh(world.process.id).status == "running"
    with pytest.raises(ValidationError) as refused:
        services.update_overview(world.process.id, world.superuser, status="finished", starts_on="2027-05-01",
                                 ends_on="2027-04-30")
    assert refused.value.field == "ends_on" and fresh(world.process.id).status == "running"


def test_lists_filter_by_status(app, world):
    services.update_overview(world.process.id, world.superuser, status="planned")
    services.update_overview(world.other_process.id, world.superuser, status="finished", ends_on="2026-01-31")
    visitor = Browser(app)
    for url in ("/processes?status=planned", "/?status=planned"):
        visitor.get(url)
        assert "Participation guidelines" in visitor.text and "Another district" not in visitor.text, url
    visitor.get("/processes?status=finished")
    assert "Another district" in visitor.text and "Participation guidelines" not in visitor.text
    assert "until" in visitor.text
    visitor.get("/processes?status=running")
    assert "No procedure with this status." in visitor.text and "0 procedures" in visitor.text
    visitor.get("/processes")
    assert "Participation guidelines" in visitor.text and "Another district" in visitor.text
    visitor.get("/processes?status=cancelled", status=400)
    assert "Unknown status" in visitor.text
    visitor.get("/?status=nonsense", status=400)


def test_what_the_overview_shows_cannot_run_script(app, world):
    services.update_overview(
        world.process.id, world.superuser, description="[x](javascript:alert(1)) <img src=x onerror=alert(1)>",
        contact='<script>alert("contact")</script>',
        links=[{"title": '"><script>alert("link")</script>', "url": 'https://example.org/?q="><script>'}])
    for url in (f"/processes/{world.process.slug}", "/processes", "/"):
        page = Browser(app).get(url).text
        assert "<script>alert" not in page and "<img" not in page and 'href="javascript' not in page, url
    page = Browser(app).get(f"/processes/{world.process.slug}").text
    assert '&lt;script&gt;alert(&#34;contact&#34;)&lt;/script&gt;' in page
    assert 'href="https://example.org/?q=&#34;&gt;&lt;script&gt;"' in page
