"""Role matrix for categories, the evaluation figures and affiliation groups: every role against every
new page, endpoint and write; a refused or malformed write is a 4xx and changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app import services
from app.extensions import db
from app.models import Category, Recommendation, User
from app.services import categories
from tests.api.test_matrix import ROLES
from tests.cli.test_cli import ok, refused
from tests.conftest import audit_count
from tests.web.browser import Browser

#: Who may define and route a process's categories: superusers and the process's own administrators.
KEEPERS = {"superuser", "administrator"}


@pytest.fixture
def setup(world, people, make_user):
    people(world)
    services.grant_role(world.other_process, world.outsider, "administrator")  # keeps another process only
    services.create_department("tiefbau", "Tiefbauamt")
    services.create_department("gruen", "Grünflächenamt")
    categories.create_category(world.process, "strassen", "Streets", "tiefbau", None)
    return world


def category(slug: str):
    db.session.expire_all()
    return db.session.scalars(select(Category).where(Category.slug == slug)).first()


def test_every_role_on_the_evaluation_pages_reads_the_same(app, setup, rec_in):
    world = setup
    rec_in(world, "steering_review")
    slug = world.process.slug
    seen: dict[str, set] = {}
    for role in ROLES:
        user = world.by_role(role)
        web = Browser(app).login(user) if user is not None else Browser(app)
        for url in ("/evaluation", f"/processes/{slug}/evaluation", "/evaluation.csv", f"/processes/{slug}/evaluation.csv"):
            response = web.client.get(url)
            assert response.status_code == 200, (role, url)
            if url.endswith(".csv"):
                seen.setdefault(url, set()).add(response.get_data(as_text=True))
        assert web.client.post("/evaluation").status_code == 405
    assert all(len(bodies) == 1 for bodies in seen.values())  # nobody's view differs


def test_every_role_on_the_categories_page_and_its_forms(app, setup):
    world = setup
    slug = world.process.slug
    for role in ROLES:
        user = world.by_role(role)
        web = Browser(app).login(user) if user is not None else Browser(app)
        checks = {}
        page = web.client.get(f"/processes/{slug}/categories")
        checks["page"] = (page.status_code, 302 if user is None else 200 if role in KEEPERS else 403)
        web.get("/login")
        before = audit_count()
        created = web.post(f"/processes/{slug}/categories",
                           {"slug": f"c-{role}", "name": f"By {role}", "department": "gruen"}, follow=False)
        checks["create"] = (created.status_code, 302 if user is None or role in KEEPERS else 403)
        made = category(f"c-{role}")
        checks["created"] = (made is not None, role in KEEPERS)
        checks["routed"] = (made.department.slug if made else None, "gruen" if role in KEEPERS else None)
        rerouted = web.post(f"/processes/{slug}/categories/strassen",
                            {"c1-name": f"Streets of {role}", "c1-department": ""}, follow=False)
        checks["reroute"] = (rerouted.status_code, 302 if user is None or role in KEEPERS else 403)
        streets = category("strassen")
        checks["rerouted"] = (streets.name == f"Streets of {role}" and streets.department_id is None, role in KEEPERS)
        checks["audited"] = (audit_count() - before, 2 if role in KEEPERS else 0)
        if role in KEEPERS:  # back for the next role
            categories.update_category(streets, None, name="Streets", department="tiefbau")
        wrong = {name: pair for name, pair in checks.items() if pair[0] != pair[1]}
        assert not wrong, (role, wrong)


def test_refused_category_forms_keep_what_was_typed_and_change_nothing(app, setup):
    world = setup
    admin = Browser(app).login(world.administrator)
    admin.get(f"/processes/{world.process.slug}/categories")
    events = audit_count()
    sent = admin.post(f"/processes/{world.process.slug}/categories", {"slug": "strassen", "name": "Twice", "department": ""},
                      follow=False)
    assert sent.status_code == 303  # post/redirect/get
    page = admin.get(f"/processes/{world.process.slug}/categories").text
    assert "exists already" in page and "Twice" in admin.page.text
    for data in ({"slug": "Bad Slug", "name": "X", "department": ""}, {"slug": "ok", "name": "X", "department": "nowhere"},
                 {"slug": "", "name": "", "department": ""}):
        assert admin.post(f"/processes/{world.process.slug}/categories", data, follow=False).status_code == 303
    assert admin.post(f"/processes/{world.process.slug}/categories/nowhere", {"c1-name": "X"}).status_code == 404
    assert audit_count() == events
    assert [c.slug for c in categories.categories(world.process.id)] == ["strassen"]
    # No form without its CSRF token.
    assert admin.client.post(f"/processes/{world.process.slug}/categories",
                             data={"slug": "csrf", "name": "Csrf"}).status_code == 400
    assert category("csrf") is None


def test_every_role_on_the_categories_api(api, setup):
    world = setup
    slug = world.process.slug
    for role in ROLES:
        user = world.by_role(role)
        listed = api.get(f"/processes/{slug}/categories", user)
        assert listed.status_code == 200 and [c["slug"] for c in listed.json["items"]][0] == "strassen", role
        before = audit_count() if user is None else (api.token(user), audit_count())[1]
        created = api.post(f"/processes/{slug}/categories", user, json={"slug": f"api-{role}", "name": role})
        expected = 401 if user is None else 201 if role in KEEPERS else 403
        assert created.status_code == expected, (role, created.status_code)
        patched = api.patch(f"/processes/{slug}/categories/strassen", user, json={"department": None})
        assert patched.status_code == (401 if user is None else 200 if role in KEEPERS else 403), role
        assert (category(f"api-{role}") is not None) == (role in KEEPERS)
        assert audit_count() - before == (2 if role in KEEPERS else 0)
        if role in KEEPERS:
            assert patched.json == {"slug": "strassen", "name": "Streets", "department": None, "routed_to": "moderators"}
            categories.update_category(category("strassen"), None, department="tiefbau")


def test_bad_category_input_is_refused_by_the_api_and_changes_nothing(api, setup, rec_in):
    world = setup
    slug = world.process.slug
    api.token(world.administrator), api.token(world.author)
    draft = rec_in(world, "draft")
    version = draft.version
    events = audit_count()
    for payload, status in (({"slug": "x"}, 422), ({"slug": "Bad Slug", "name": "X"}, 422),
                            ({"slug": "x", "name": "X", "department": "nowhere"}, 422),
                            ({"slug": "strassen", "name": "Again"}, 422), ({"slug": 3, "name": "X"}, 422),
                            ({"slug": "x", "name": "X", "colour": "red"}, 422)):
        answer = api.post(f"/processes/{slug}/categories", world.administrator, json=payload)
        assert answer.status_code == status and answer.json["error"]["code"] == "validation", payload
    assert api.post(f"/processes/{slug}/categories", world.administrator, data="{", check=False).status_code == 400
    assert api.patch(f"/processes/{slug}/categories/nowhere", world.administrator, json={"name": "X"}).status_code == 404
    assert api.patch(f"/processes/{slug}/categories/strassen", world.administrator,
                     json={"department": "nowhere"}).status_code == 422
    assert api.get("/processes/nowhere/categories").status_code == 404
    # An item filed under a category that is not its process's.
    categories.create_category(world.other_process, "elsewhere", "Elsewhere", None, None)
    events = audit_count()
    assert api.post(f"/processes/{slug}/recommendations", world.author,
                    json={"title": "T", "body": "B", "category": "elsewhere"}).status_code == 422
    assert api.patch(f"/recommendations/{draft.id}", world.author,
                     json={"category": "elsewhere", "version": draft.version}).status_code == 422
    assert audit_count() == events
    assert category("x") is None and category("strassen").name == "Streets"
    db.session.expire_all()
    assert db.session.get(Recommendation, draft.id).category_id is None
    # And the good way round: filed, shown, taken back.
    filed = api.patch(f"/recommendations/{draft.id}", world.author, json={"category": "strassen", "version": version})
    assert filed.status_code == 200 and filed.json["category"] == {"slug": "strassen", "name": "Streets"}
    assert filed.json["version"] == version + 1
    cleared = api.patch(f"/recommendations/{draft.id}", world.author, json={"category": None, "version": filed.json["version"]})
    assert cleared.status_code == 200 and cleared.json["category"] is None
    made = api.post(f"/processes/{slug}/recommendations", world.author, json={"title": "T", "body": "B", "category": "strassen"})
    assert made.status_code == 201 and made.json["category"]["slug"] == "strassen"


def test_every_role_on_the_affiliation_settings(app, setup):
    world = setup
    app.config["AFFILIATION_GROUPS"] = ["Culture", "Young people"]
    for role in ROLES:
        user = world.by_role(role)
        web = Browser(app).login(user) if user is not None else Browser(app)
        page = web.client.get("/settings/affiliation")
        assert page.status_code == (302 if user is None else 200), role
        if user is not None:
            web.get("/settings/affiliation")
            web.post("/settings/affiliation", {"group": "Culture"})
            db.session.expire_all()
            assert db.session.get(User, user.id).affiliation == "Culture"
    # Without the token nothing is saved.
    member = Browser(app).login(world.member)
    assert member.client.post("/settings/affiliation", data={"group": ""}).status_code == 400
    db.session.expire_all()
    assert db.session.get(User, world.member.id).affiliation == "Culture"


def test_the_cli_defines_lists_and_routes_categories(runner, setup):
    world = setup
    events = audit_count()
    ok(runner.invoke(args=["categories", "create", world.process.slug, "parks", "--name", "Parks", "--department", "gruen"]),
       "created category parks (Parks)")
    listed = ok(runner.invoke(args=["categories", "list", world.process.slug])).stdout
    assert listed == "parks\tParks\tgruen\nstrassen\tStreets\ttiefbau\n"
    ok(runner.invoke(args=["categories", "route", world.process.slug, "parks"]), "category parks routes to the moderators")
    ok(runner.invoke(args=["departments", "deactivate", "tiefbau"]), "deactivated department tiefbau")
    ok(runner.invoke(args=["departments", "deactivate", "tiefbau"]), "was deactivated already")
    assert ok(runner.invoke(args=["categories", "list", world.process.slug])).stdout.endswith("strassen\tStreets\tmoderators\n")
    assert audit_count() == events + 3
    refused(runner.invoke(args=["categories", "create", world.process.slug, "parks", "--name", "Again"]),
            "a category with the slug 'parks' exists already")
    refused(runner.invoke(args=["categories", "create", "nowhere", "x", "--name", "X"]), "there is no process 'nowhere'")
    refused(runner.invoke(args=["categories", "route", world.process.slug, "parks", "--department", "tiefbau"]),
            "the department 'tiefbau' is deactivated")
    refused(runner.invoke(args=["categories", "route", world.process.slug, "nowhere"]), "there is no category 'nowhere'")
    assert audit_count() == events + 3
    ok(runner.invoke(args=["departments", "activate", "tiefbau"]), "activated department tiefbau")
