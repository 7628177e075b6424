"""Demonstration data: a district's participation-guideline working group.

Everything is created through the services, so the demo's audit trail is real
and verifies like any other.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from . import services
from .errors import ValidationError
from .extensions import db
from .models import Process, Recommendation, User
from .queries import RecommendationView

PROCESS = "leitlinien-mitte"
CONCERNS = "anliegen-mitte"
PLANNED = "marktplatz-mitte"

PEOPLE = [
    # e-mail, name, roles in the guideline process, roles in the concerns process, superuser
    ("betrieb@example.org", "Olga Betrieb", [], [], True),
    ("amira@example.org", "Amira Yilmaz", ["member"], [], False),
    ("jonas@example.org", "Jonas Becker", ["member"], [], False),
    ("helga@example.org", "Helga Schulz", ["member"], ["member"], False),
    ("mara@example.org", "Mara Lindqvist", ["moderator"], ["moderator"], False),
    ("stefan@example.org", "Stefan Kraus", ["administrator"], ["administrator"], False),
    ("petra@example.org", "Petra Neumann", [], [], False),  # Stadtentwicklungsamt
    ("sami@example.org", "Sami Haddad", [], [], False),  # Amt für Soziales
]

DEPARTMENTS = [
    # slug, name, members
    ("stadtentwicklung", "Stadtentwicklungsamt", ["petra"]),
    ("soziales", "Amt für Soziales", ["sami"]),
]

#: title, body, author, path of (trigger, actor, note)
RECOMMENDATIONS: list[tuple[str, str, str, list[tuple[str, str, str | None]]]] = [
    (
        "Beteiligung früh ankündigen",
        "Vorhaben des Bezirks werden **spätestens sechs Wochen** vor Beginn der Beteiligung in der Vorhabenliste angekündigt.",
        "amira",
        [],
    ),
    (
        "Leichte Sprache in allen Einladungen",
        "Einladungen zu Beteiligungsverfahren erscheinen zusätzlich in *Leichter Sprache*.",
        "jonas",
        [],
    ),
    (
        "Kinder und Jugendliche eigens beteiligen",
        "Für Vorhaben, die junge Menschen betreffen, gibt es ein eigenes Format, z. B. in Schulen.",
        "helga",
        [("submit", "helga", None)],
    ),
    (
        "Rückmeldung zu jedem Beitrag",
        "Jeder Beitrag aus einer Beteiligung erhält eine begründete Rückmeldung.",
        "amira",
        [("submit", "amira", None), ("start_moderation", "mara", None)],
    ),
    (
        "Barrierefreie Veranstaltungsorte",
        "Veranstaltungen finden nur an Orten statt, die ohne Stufen erreichbar sind.",
        "jonas",
        [
            ("submit", "jonas", None),
            ("start_moderation", "mara", None),
            ("return_to_authors", "mara", "Bitte konkretisieren: Welche Kriterien gelten als barrierefrei?"),
            ("submit", "jonas", None),
            ("start_moderation", "mara", None),
        ],
    ),
    (
        "Anlaufstelle für Beteiligung",
        "Der Bezirk richtet eine Anlaufstelle ein, die Bürgerinnen und Bürger zu Beteiligung berät.",
        "helga",
        [("submit", "helga", None), ("start_moderation", "mara", None), ("forward", "mara", None)],
    ),
    (
        "Beteiligungsbudget je Vorhaben",
        "Für jedes Vorhaben mit Beteiligung wird ein eigenes Budget ausgewiesen.",
        "amira",
        [("submit", "amira", None), ("start_moderation", "mara", None), ("forward", "mara", None)],
    ),
    (
        "Digitale und analoge Wege",
        "Jede Beteiligung bietet mindestens einen analogen und einen digitalen Zugang.",
        "jonas",
        [("submit", "jonas", None), ("start_moderation", "mara", None), ("forward", "mara", None)],
    ),
    (
        "Vorhabenliste online veröffentlichen",
        "Die Vorhabenliste erscheint vierteljährlich online und im Rathaus.",
        "helga",
        [
            ("submit", "helga", None),
            ("start_moderation", "mara", None),
            ("forward", "mara", None),
            ("adopt", "stefan", "Angenommen. Die Vorhabenliste wird ab dem nächsten Quartal veröffentlicht."),
        ],
    ),
    (
        "Feste Sprechzeiten der Fachämter",
        "Jedes Fachamt bietet monatliche Sprechzeiten zu laufenden Beteiligungen an.",
        "amira",
        [
            ("submit", "amira", None),
            ("start_moderation", "mara", None),
            ("forward", "mara", None),
            (
                "adopt_in_part",
                "stefan",
                "Teilweise angenommen: Sprechzeiten quartalsweise statt monatlich, wegen der Personallage.",
            ),
        ],
    ),
    (
        "Aufwandsentschädigung für alle Teilnehmenden",
        "Alle Teilnehmenden an Beteiligungsformaten erhalten eine Aufwandsentschädigung.",
        "jonas",
        [
            ("submit", "jonas", None),
            ("start_moderation", "mara", None),
            ("forward", "mara", None),
            (
                "reject",
                "stefan",
                "Abgelehnt: Der Haushalt lässt das nicht zu. Für die Bürgerschaftliche AG bleibt die Entschädigung.",
            ),
        ],
    ),
    (
        "Beteiligung per Losverfahren",
        "Die Teilnehmenden werden ausgelost.",
        "helga",
        [("submit", "helga", None), ("withdraw", "helga", "Wir bringen das in einer überarbeiteten Fassung ein.")],
    ),
]


def _holds(email: str, roles: list[str], concern_roles: list[str], superuser: bool) -> str:
    """Who holds which role, for the printed logins: "moderation in both processes", "superuser", ..."""
    names = {"member": _("member"), "moderator": _("moderator"), "administrator": _("administrator")}
    held = [_("superuser (administration of the installation)")] if superuser else []
    for role in dict.fromkeys(roles + concern_roles):
        where = (
            _("both processes")
            if role in roles and role in concern_roles
            else _("the guidelines process")
            if role in roles
            else _("the concerns process")
        )
        held.append(_("%(role)s in %(where)s", role=names[role], where=where))
    held += [_("department %(name)s", name=name) for _slug, name, members in DEPARTMENTS if email.split("@")[0] in members]
    return ", ".join(held)


def _write_logins(lines: list[str]) -> Path:
    path = Path(current_app.instance_path) / "demo-logins.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def load(if_empty: bool = False) -> None:
    if db.session.scalars(select(User).limit(1)).first() is not None:
        if if_empty:
            click.echo(
                _(
                    "demo: the database holds data already; nothing loaded (demo logins, if any: %(path)s)",
                    path=Path(current_app.instance_path) / "demo-logins.txt",
                )
            )
            return
        if db.session.scalars(select(Process).where(Process.slug == PROCESS)).first():
            raise ValidationError(_("the demo is loaded already (process '%(slug)s' exists)", slug=PROCESS))

    people: dict[str, User] = {}
    logins = [_("Ratschlag demo logins (sign in at /login)"), ""]
    for email, name, roles, concern_roles, superuser in PEOPLE:
        user, password = services.create_user(email, name, superuser=superuser)
        people[email.split("@")[0]] = user
        logins.append(f"{email:24} {password}  {name:16} {_holds(email, roles, concern_roles, superuser)}")

    guidelines = services.create_process(PROCESS, "Leitlinien für Bürgerbeteiligung im Bezirk Mitte", "citizen-recommendation")
    concerns = services.create_process(CONCERNS, "Anliegen an das Stadtteilbüro Mitte", "citizen-concern")
    # Their entries in the overview of procedures (Vorhabenliste), plus a planned procedure.
    services.update_overview(
        guidelines.id,
        None,
        status="running",
        starts_on="2026-01-15",
        ends_on="2026-12-31",
        participation="co-decide",
        description="Die Bürgerschaftliche Arbeitsgemeinschaft erarbeitet **Empfehlungen** für die Leitlinien; "
        "die Steuerungsrunde entscheidet über jede mit Begründung.",
        contact="Büro für Bürgerbeteiligung Mitte\nbeteiligung@bezirk.example",
        links=[{"title": "Leitlinien für Bürgerbeteiligung", "url": "https://example.org/leitlinien"}],
    )
    services.update_overview(
        concerns.id,
        None,
        status="running",
        starts_on="2026-03-01",
        participation="consult",
        description="Anliegen aus der Nachbarschaft: das Stadtteilbüro nimmt sie auf und trägt sie in die Verwaltung.",
        contact="Regionalkoordination, Rathaus Mitte, Zimmer 104",
    )
    planned = services.create_process(PLANNED, "Neugestaltung des Marktplatzes", "citizen-recommendation")
    services.update_overview(
        planned.id,
        None,
        status="planned",
        starts_on="2027-04-01",
        ends_on="2027-09-30",
        participation="consult",
        description="Wie soll der Marktplatz künftig aussehen? Ab April sammeln wir Ideen und Hinweise.",
        contact="Stadtentwicklungsamt, Team Öffentlicher Raum",
    )
    for email, _name, roles, concern_roles, _superuser in PEOPLE:
        user = people[email.split("@")[0]]
        for role in roles:
            services.grant_role(guidelines, user, role)
        for role in concern_roles:
            services.grant_role(concerns, user, role)

    for slug, name, members in DEPARTMENTS:
        department = services.create_department(slug, name)
        for member in members:
            services.add_department_member(department, people[member])

    recs = []
    for title, body, author, steps in RECOMMENDATIONS:
        rec: Recommendation | RecommendationView = services.create_recommendation(guidelines.id, people[author], title, body)
        for trigger, actor, note in steps:
            if trigger == "adopt":
                # The decision rests on the planning department's public statement.
                asked = services.request_statement(
                    rec.id, people["stefan"], "stadtentwicklung", "Ist eine vierteljährliche Veröffentlichung leistbar?"
                )
                services.answer_statement(
                    asked.id,
                    people["petra"],
                    "Ja. Die Vorhabenliste wird ohnehin **vierteljährlich** fortgeschrieben; "
                    "die Veröffentlichung kostet keinen zusätzlichen Aufwand.",
                    "public",
                )
            rec = services.fire(rec.id, trigger, people[actor], note, rec.version)
        recs.append(rec)

    # A revised draft keeps its earlier version.
    services.update_recommendation(
        recs[0].id,
        people["amira"],
        recs[0].version,
        body=RECOMMENDATIONS[0][1] + "\n\nDie Ankündigung nennt auch den Ansprechpartner.",
    )
    # Statements asked in the steering round: one answered, one still open.
    asked = services.request_statement(
        recs[5].id, people["stefan"], "stadtentwicklung", "Gibt es im Stadtteilzentrum Räume für die Anlaufstelle?"
    )
    services.answer_statement(
        asked.id, people["petra"], "Im Stadtteilzentrum Mitte steht ab dem Frühjahr ein Büro zur Verfügung.", "public"
    )
    services.request_statement(
        recs[5].id, people["stefan"], "soziales", "Kann die Sozialberatung die Anlaufstelle mit besetzen?", due_days=14
    )
    # Discussion on a recommendation in the steering round.
    discussed = recs[5].id
    first = services.create_comment(
        discussed, people["amira"], "Gute Idee. Wo soll die Anlaufstelle sitzen? Im Rathaus oder im Stadtteil?"
    )
    services.create_comment(discussed, people["helga"], "Im Stadtteilzentrum, da sind die Wege kurz.", parent_id=first.id)
    services.create_comment(
        discussed,
        people["mara"],
        "Hinweis für die Steuerungsrunde: Das Fachamt hat Personalbedarf angemeldet.",
        visibility="internal",
    )
    rude = services.create_comment(discussed, people["jonas"], "Das bringt doch eh nichts, typisch Verwaltung!!!")
    services.hide_comment(rude.id, people["mara"], "Bitte sachlich bleiben (Diskussionsregel 2).")
    services.create_comment(recs[8].id, people["jonas"], "Danke für die klare Begründung!")
    # An open report for the moderation queue.
    doubtful = services.create_comment(recs[6].id, people["jonas"], "Das Geld wird doch sowieso zweckentfremdet.")
    services.report_comment(doubtful.id, people["amira"], "Eine Unterstellung ohne jeden Beleg.")

    # The steering round's next session, its agenda set from what is ready; a report on an adopted one.
    session = services.create_session(
        guidelines.id,
        people["stefan"],
        "4. Sitzung der Steuerungsrunde",
        "2026-03-14T18:00",
        "Rathaus Mitte, Raum 101",
        "Stefan (Bezirksamt), Vertretung der BVV, Vertretung der Bürgerschaftlichen AG",
    )
    services.add_ready(session.id, people["stefan"])
    adopted = next(rec for rec in recs if rec.title == "Vorhabenliste online veröffentlichen")
    services.record_follow_up(
        adopted.id,
        people["petra"],
        "in_progress",
        "Die erste Vorhabenliste ist im Entwurf; sie erscheint im April online.",
        next_days=90,
        department="stadtentwicklung",
    )

    concern: Recommendation | RecommendationView = services.create_recommendation(
        concerns.id,
        people["helga"],
        "Bank am Spielplatz Lindenstraße",
        "Am Spielplatz fehlt eine Bank für Eltern und Großeltern.",
    )
    concern = services.fire(concern.id, "triage", people["mara"], None, concern.version)
    concern = services.fire(concern.id, "forward", people["mara"], "Zuständig: Straßen- und Grünflächenamt", concern.version)

    path = _write_logins(logins)
    click.echo("\n".join(logins))
    click.echo("\n" + _("(also written to %(path)s)", path=path))
