"""The demo data of `make run` fills every page with something to see."""
from __future__ import annotations

import re

from tests.web.browser import Browser


def test_every_page_type_shows_something_with_the_demo(app, runner):
    output = runner.invoke(args=["demo"]).stdout
    passwords = dict(re.findall(r"^(\S+@example\.org)\s+(\S+)", output, re.M))

    def as_user(email: str) -> Browser:
        browser = Browser(app)
        browser.get("/login")
        browser.post("/login", {"email": email, "password": passwords[email]}, status=200)
        return browser

    visitor = Browser(app)
    visitor.get("/")
    front = visitor.text
    assert "Leitlinien für Bürgerbeteiligung im Bezirk Mitte" in front
    assert "Angenommen. Die Vorhabenliste wird ab dem nächsten Quartal veröffentlicht." in front
    visitor.get("/processes/leitlinien-mitte")
    assert "Steering round review (3)" in visitor.page.text and "Vorhabenliste online veröffentlichen" in visitor.text
    visitor.get("/processes/leitlinien-mitte/recommendations/6")
    assert "Im Stadtteilzentrum, da sind die Wege kurz." in visitor.text and "Hidden by moderation" in visitor.text
    # A department's public statement, and a request still open.
    assert "steht ab dem Frühjahr ein Büro zur Verfügung" in visitor.text and "Amt für Soziales" in visitor.text
    visitor.get("/processes/leitlinien-mitte/recommendations/9")
    assert "The statements it rests on" in visitor.text
    # Its implementation is reported on; the steering round's next session has its agenda.
    assert "Die erste Vorhabenliste ist im Entwurf" in visitor.text
    visitor.get("/processes/leitlinien-mitte/sessions")
    assert "4. Sitzung der Steuerungsrunde" in visitor.text

    amira = as_user("amira@example.org")
    assert "Beteiligung früh ankündigen" in amira.get("/my").text
    amira.get("/processes/leitlinien-mitte/recommendations/1/versions")
    assert "From version 1 to version 2" in amira.text
    mara = as_user("mara@example.org")
    mara.get("/moderation")
    assert "Rückmeldung zu jedem Beitrag" in mara.text and "Eine Unterstellung ohne jeden Beleg." in mara.text
    mara.get("/processes/leitlinien-mitte/recommendations/6?tab=internal")
    assert "Personalbedarf" in mara.text
    stefan = as_user("stefan@example.org")
    stefan.get("/steering")
    assert "Anlaufstelle für Beteiligung" in stefan.text and "Bank am Spielplatz Lindenstraße" in stefan.text
    olga = as_user("betrieb@example.org")
    assert "Mara Lindqvist" in olga.get("/admin/users").text
    assert "Anliegen an das Stadtteilbüro Mitte" in olga.get("/admin/processes").text
    assert "recommendation.transitioned" in olga.get("/admin/audit").text
    assert "Verify the whole chain now" in olga.get("/admin/audit/verify").text
