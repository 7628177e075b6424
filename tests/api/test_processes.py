"""The process representation with its entry in the overview of procedures (docs/api.md)."""
from __future__ import annotations

from app import services


def test_processes_carry_the_overview_and_filter_by_status(api, world):
    services.update_overview(world.process.id, world.administrator, description="Ein *Platz* für alle.",
                             status="planned", starts_on="2027-03-01", ends_on="2027-06-30", participation="co-decide",
                             contact="Kim Berger", links=[{"title": "Plan", "url": "https://example.org/plan"}])
    items = {item["slug"]: item for item in api.get("/processes").json["items"]}  # checked against the OpenAPI document
    item = items[world.process.slug]
    assert (item["slug"], item["title"], item["workflow"]) == ("guidelines", "Participation guidelines", "citizen-recommendation")
    assert item["description"] == "Ein *Platz* für alle." and "<em>Platz</em>" in item["description_html"]
    assert (item["status"], item["starts_on"], item["ends_on"], item["participation"], item["contact"]) == \
        ("planned", "2027-03-01", "2027-06-30", "co-decide", "Kim Berger")
    assert item["links"] == [{"title": "Plan", "url": "https://example.org/plan"}]
    assert item["html_url"] == "http://ratschlag.test/processes/guidelines"
    other = items[world.other_process.slug]
    assert (other["status"], other["starts_on"], other["participation"], other["links"], other["description"]) == \
        ("running", None, None, [], "")

    assert [i["slug"] for i in api.get("/processes?status=planned").json["items"]] == ["guidelines"]
    assert [i["slug"] for i in api.get("/processes?status=running").json["items"]] == ["guidelines-other"]
    assert api.get("/processes?status=finished").json["items"] == []
    refused = api.get("/processes?status=cancelled")
    assert refused.status_code == 422 and refused.json["error"]["code"] == "validation"
    assert "unknown status 'cancelled'" in refused.json["error"]["message"]


def test_one_process(api, world):
    body = api.get(f"/processes/{world.process.slug}").json
    assert body["slug"] == "guidelines" and body["status"] == "running"
    missing = api.get("/processes/no-such-process")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_the_workflow_names_what_it_moves(api, app):
    concern = api.get("/workflows/citizen-concern").json
    assert (concern["noun"], concern["noun_plural"]) == ("concern", "concerns")
    recommendation = api.get("/workflows/citizen-recommendation").json
    assert (recommendation["noun"], recommendation["noun_plural"]) == ("recommendation", "recommendations")
    german = api.get("/workflows/citizen-concern", headers={"Accept-Language": "de"}).json
    assert (german["noun"], german["noun_plural"]) == ("Anliegen", "Anliegen")
