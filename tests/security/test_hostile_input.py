"""Hostile input: XSS through every text field, SQL metacharacters in every filter, malformed requests."""
from __future__ import annotations

import itertools

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from app import services
from app.api.openapi import document
from app.extensions import db
from app.services import fire
from tests.conftest import audit_count
from tests.html_safety import executable_parts, without_own_scripts
from tests.test_text import HOSTILE as RENDER_VECTORS
from tests.web.browser import Browser

SCHEMES = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\nscript:alert(1)", "&#106;avascript:alert(1)",
           "jav&#x09;ascript:alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>",
           "&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;:alert(1)"]
CARRIERS = ["[x]({})", "![x]({})", "<a href=\"{}\">x</a>", "<iframe src=\"{}\"></iframe>", "<form action=\"{}\"><button>x</button></form>",
            "<object data=\"{}\"></object>", "<svg><a xlink:href=\"{}\"><text>x</text></a></svg>", "<math href=\"{}\">x</math>"]
HANDLERS = ["<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "<body onload=alert(1)>", "<details open ontoggle=alert(1)>",
            "<input autofocus onfocus=alert(1)>", "<video><source onerror=alert(1)></video>", "<marquee onstart=alert(1)>",
            "<p onmouseover=alert(1)>x</p>", "<div onclick=\"alert(1)\">x</div>", "<a href=x onfocus=alert(1) autofocus>x</a>",
            "<isindex type=image src=1 onerror=alert(1)>", "<select autofocus onfocus=alert(1)>", "<textarea autofocus onfocus=alert(1)>",
            "<keygen autofocus onfocus=alert(1)>", "<audio src=x onerror=alert(1)>", "<object onerror=alert(1)>"]
VECTORS = list(dict.fromkeys(RENDER_VECTORS + [c.format(s) for c, s in itertools.product(CARRIERS, SCHEMES)] + HANDLERS))
PAGE_TAGS = {"link", "meta", "form", "input", "button", "textarea", "svg"}


def test_the_corpus_is_large():
    assert len(VECTORS) >= 100


def test_nothing_executable_reaches_any_page_or_api_answer(world, people, browser, api, make_user):
    people(world)
    one_line = lambda text: " ".join(text.splitlines())[:200]  # noqa: E731  (titles and names are one line)
    services.create_process("boese", one_line(VECTORS[0]), "citizen-recommendation")
    groups = [VECTORS[i:i + 12] for i in range(0, len(VECTORS), 12)]
    recs = []
    for group in groups:
        text = "\n\n".join(group)
        villain = make_user(name=one_line(group[0]))
        services.grant_role(world.process, villain, "member")
        rec = services.create_recommendation(world.process.id, villain, one_line(group[-1]), text)
        rec = services.update_recommendation(rec.id, villain, rec.version, body=text + "\n\n" + group[1])
        rec = fire(rec.id, "submit", villain, text[:10_000], rec.version)
        rec = fire(rec.id, "start_moderation", world.moderator, None, rec.version)
        rec = fire(rec.id, "forward", world.moderator, text[:10_000], rec.version)
        for vector in group:
            comment = services.create_comment(rec.id, villain, vector)
        services.create_comment(rec.id, world.moderator, text, visibility="internal")
        services.report_comment(comment.id, world.author, text[:10_000])
        hidden = services.create_comment(rec.id, villain, "x")
        services.hide_comment(hidden.id, world.moderator, text[:10_000])
        recs.append(fire(rec.id, "reject", world.administrator, text[:10_000], rec.version))

    slug = world.process.slug
    pages = ["/", f"/processes/{slug}", "/processes/boese", "/moderation", "/steering", "/my",
             "/admin/users", f"/admin/processes/{slug}", "/admin/processes", "/admin/audit"]
    for rec in recs:
        base = f"/processes/{slug}/recommendations/{rec.number}"
        pages += [base, base + "?tab=internal", base + "/versions?a=1&b=2"]
    for user in (None, world.moderator, world.superuser):
        reader = browser(user)
        for url in pages:
            response = reader.client.get(url)
            assert response.status_code in (200, 302, 403), (url, response.status_code)
            page = without_own_scripts(response.text)
            assert executable_parts(page, PAGE_TAGS) == [], url
            assert "<script" not in page.lower(), url
    for rec in recs:
        for path in (f"/recommendations/{rec.id}", f"/recommendations/{rec.id}/comments", f"/recommendations/{rec.id}/events"):
            response = api.get(path, world.moderator)
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.mimetype == "application/json"
        answer = api.get(f"/recommendations/{rec.id}").json
        assert executable_parts(answer["body_html"]) == []
        for comment in api.get(f"/recommendations/{rec.id}/comments", world.moderator).json["items"]:
            assert executable_parts(comment["body_html"] or "") == []


METACHARACTERS = ["' OR 1=1 --", "\"; DROP TABLE users; --", "%", "_", "\\", "' UNION SELECT password_hash FROM users --",
                  "1; DELETE FROM recommendations", "%' AND '1'='1", "[]", "{}", "-1", "99999999999999999999", "0x1", "1e9",
                  "ö' OR 'ä'='ä", "\u202e", "%00", "\x00"]


def table_counts() -> dict[str, int]:
    db.session.rollback()
    return {t: db.session.scalar(sa.text(f"SELECT count(*) FROM {t}"))
            for t in ("users", "recommendations", "comments", "audit_events", "memberships")}


def test_sql_metacharacters_in_every_filter_and_search(world, people, rec_in, app, api):
    people(world)
    rec_in(world, "steering_review", title="Sichtbar")
    before = table_counts()
    slug = world.process.slug
    superuser = Browser(app).login(world.superuser)
    for value in METACHARACTERS:
        for name in ("q", "state", "author", "sort", "page"):
            response = superuser.client.get(f"/processes/{slug}", query_string={name: value})
            assert response.status_code in (200, 400), (name, value, response.status_code)
            if name == "q" and response.status_code == 200:
                assert "0 recommendations" in response.text, value  # searched as text, matching nothing
        for name in ("state", "page", "per_page"):
            response = api.client.get(f"/api/v1/processes/{slug}/recommendations", query_string={name: value})
            assert response.status_code in (200, 400, 422), (name, value, response.status_code)
        for name in ("action", "actor", "from", "to", "before"):
            response = superuser.client.get("/admin/audit", query_string={name: value})
            assert response.status_code in (200, 400), (name, value, response.status_code)
        assert superuser.client.get(f"/processes/{value}").status_code in (400, 404)
        assert api.client.get(f"/api/v1/workflows/{value}").status_code in (400, 404)
    assert table_counts() == before


# Any text, lone surrogates included (JSON can carry "\ud800"; no database can store it).
ANY_TEXT = st.characters(exclude_categories=())
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(ANY_TEXT, max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(ANY_TEXT, max_size=10), inner, max_size=4),
    max_leaves=12,
)


def body_for(keys: list[str]):
    """Bodies that mostly hold the right keys, with any values, plus the odd stranger."""
    return st.one_of(
        st.fixed_dictionaries({}, optional={key: JSON_VALUES for key in keys}),
        st.dictionaries(st.sampled_from(keys + ["state", "id", "__proto__"]), JSON_VALUES, max_size=5),
        JSON_VALUES,
    )


@pytest.fixture
def target(world, rec_in, api):
    rec = rec_in(world, "steering_review")
    comment = api.post(f"/recommendations/{rec.id}/comments", world.member, json={"body": "Hallo"}).json
    for user in (world.member, world.moderator, world.administrator):
        api.token(user)
    return rec.id, comment["id"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_api_input_handling_never_fails_and_refusals_change_nothing(api, world, target, data):
    rec_id, comment_id = target
    endpoint = data.draw(st.sampled_from([
        ("POST", f"/processes/{world.process.slug}/recommendations", ["title", "body"], world.member),
        ("PATCH", f"/recommendations/{rec_id}", ["title", "body", "version"], world.member),
        ("POST", f"/recommendations/{rec_id}/transitions", ["trigger", "note", "version"], world.administrator),
        ("POST", f"/recommendations/{rec_id}/comments", ["body", "parent_id", "visibility"], world.member),
        ("POST", f"/comments/{comment_id}/hide", ["reason"], world.moderator),
    ]))
    method, path, keys, user = endpoint
    payload = data.draw(body_for(keys))
    events = audit_count()
    response = api.request(method, path, user, json=payload, check=False)
    assert response.status_code < 500, (method, path, payload, response.json)
    assert response.mimetype == "application/json" and "error" in response.json or response.status_code < 300
    if response.status_code >= 400:
        assert audit_count() == events, (method, path, payload)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(page=st.text(ANY_TEXT, max_size=12), per_page=st.text(ANY_TEXT, max_size=12), state=st.text(ANY_TEXT, max_size=12))
def test_list_parameters_never_fail(api, world, page, per_page, state):
    from urllib.parse import quote
    # Sent as the bytes a client can send: a lone surrogate becomes invalid UTF-8 in the address.
    query = "&".join(f"{name}={quote(value.encode('utf-8', 'surrogatepass'))}"
                     for name, value in (("page", page), ("per_page", per_page), ("state", state)))
    response = api.client.get(f"/api/v1/processes/{world.process.slug}/recommendations?{query}")
    assert response.status_code in (200, 400, 422), (page, per_page, state)


# The schema is loaded from the document the application serves; each case goes to the test's app.
schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_no_server_error(case, app, world, rec_in, token):
    if not getattr(app, "_schemathesis_data", False):
        rec_in(world, "steering_review")
        app._schemathesis_data = True
    response = case.call(app=app, headers={"Authorization": f"Bearer {token(world.moderator)}"})
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance])
