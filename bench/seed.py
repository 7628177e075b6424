"""Data for bench/bench.py, run inside the application (RATSCHLAG_* settings from the environment).

    python bench/seed.py main SIZES_JSON      # users, tokens, transitions, comments, list volumes; prints JSON
    python bench/seed.py events COUNT         # a chain of COUNT audit events, nothing else
    python bench/seed.py explained COUNT      # COUNT events that the tables agree with (for verify --deep)
    python bench/seed.py evaluation SIZES_JSON   # a process per size with a history: the evaluation figures, open data

People, tokens and the recommendations that transitions move are made through the services;
volume that only has to be there (comments, list rows, audit events) is bulk-loaded.
"""
from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from app import audit, create_app, services, text as markdown
from app.extensions import db
from app.models import AuditEvent, Comment, Recommendation, RecommendationAuthor, utcnow
from app.services import fire

BATCH = 10_000


def main(sizes: dict) -> dict:
    people = {}
    tokens = {"moderator": [], "administrator": []}
    process = services.create_process("bench", "Bench", "citizen-recommendation")
    for role, count in (("member", 1), ("moderator", 8), ("administrator", 8)):
        for n in range(count):
            user, _ = services.create_user(f"{role}{n}@bench.example", f"{role.title()} {n}", password=f"bench-password-{n}")
            services.grant_role(process, user, role)
            people.setdefault(role, user)
            if role in tokens:
                tokens[role].append(services.create_token(user, "bench"))
    member = people["member"]

    def moved(title: str, to_review: bool):
        rec = services.create_recommendation(process.id, member, title, "Ein **Text**. " * 40)
        rec = fire(rec.id, "submit", member, None, rec.version)
        rec = fire(rec.id, "start_moderation", people["moderator"], None, rec.version)
        if to_review:
            rec = fire(rec.id, "forward", people["moderator"], None, rec.version)
        return rec

    transitions = [{"id": r.id, "version": r.version} for r in (moved(f"Bewegt {n}", False) for n in range(9))]

    html = markdown.render("Ein **Kommentar** mit etwas Text, wie er in Diskussionen vorkommt.")
    threads = {}
    for count in sizes["comments"]:
        rec = moved(f"Diskussion mit {count} Kommentaren", True)
        rows = [{"recommendation_id": rec.id, "author_id": member.id, "body": "Ein **Kommentar**.", "body_html": html,
                 "visibility": "internal" if n % 10 == 0 else "public", "hidden": n % 17 == 0,
                 "hidden_reason": "Regel 2" if n % 17 == 0 else None, "created_at": utcnow()} for n in range(count)]
        db.session.execute(insert(Comment), rows)
        db.session.commit()
        threads[count] = {"id": rec.id, "number": rec.number}

    lists = {}
    body = "Ein Text. " * 30
    body_html = markdown.render(body)
    states = ["steering_review", "adopted", "rejected", "in_moderation"]
    for count in sizes["recommendations"]:
        listed = services.create_process(f"list-{count}", f"Liste mit {count} Empfehlungen", "citizen-recommendation")
        now = utcnow()
        for start in range(0, count, BATCH):
            rows = [{"process_id": listed.id, "number": n + 1, "title": f"Empfehlung {n + 1}", "body": body,
                     "body_html": body_html, "state": states[n % 4], "version": 1, "state_entered_at": now,
                     "created_at": now, "updated_at": now} for n in range(start, min(count, start + BATCH))]
            db.session.execute(insert(Recommendation), rows)
            ids = db.session.execute(text("SELECT id FROM recommendations WHERE process_id = :p AND number > :a AND number <= :b"),
                                     {"p": listed.id, "a": start, "b": start + BATCH}).scalars().all()
            db.session.execute(insert(RecommendationAuthor), [{"recommendation_id": i, "user_id": member.id, "position": 0} for i in ids])
            db.session.commit()
        visible = sum(1 for n in range(count) if states[n % 4] != "in_moderation")  # what an anonymous visitor sees
        lists[count] = {"slug": listed.slug, "visible": visible}

    dialect = db.engine.dialect.name
    # A running installation's statistics and visibility map are kept by (auto)vacuum; a bulk load has neither yet.
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE" if dialect == "sqlite" else "VACUUM ANALYZE")
    db.session.execute(text("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, counter INTEGER NOT NULL)"))
    db.session.execute(text("CREATE TABLE bench_log (id INTEGER PRIMARY KEY, floor_id INTEGER NOT NULL)" if dialect == "sqlite"
                            else "CREATE TABLE bench_log (id SERIAL PRIMARY KEY, floor_id INTEGER NOT NULL)"))
    db.session.execute(text("INSERT INTO bench_floor (id, counter) VALUES " + ", ".join(f"({n}, 0)" for n in range(1, 9))))
    db.session.commit()
    return {"tokens": tokens, "transitions": transitions, "threads": threads, "lists": lists}


def events(count: int) -> None:
    """A valid chain of ``count`` v2 events, digested and hashed exactly as the application does."""
    prev, start = audit.GENESIS, datetime(2026, 1, 1, tzinfo=UTC)
    for first in range(1, count + 1, BATCH):
        rows = []
        for seq in range(first, min(count, first + BATCH - 1) + 1):
            at = audit.timestamp(start + timedelta(seconds=seq))
            data = audit.canonical_data({"body": f"Kommentar {seq}", "visibility": "public", "parent_id": None})
            salt = audit.new_salt()
            data_digest = audit.digest_data(salt, data)
            digest = audit.compute_hash_v2(prev, seq, at, None, "comment.created", "comment", seq, data_digest)
            rows.append({"seq": seq, "v": 2, "at": at, "actor_id": None, "action": "comment.created",
                         "subject_type": "comment", "subject_id": seq, "data": data, "salt": salt,
                         "data_digest": data_digest, "prev_hash": prev, "hash": digest})
            prev = digest
        db.session.execute(insert(AuditEvent), rows)
        db.session.commit()


def explained(count: int) -> None:
    """A chain of ``count`` v2 events that the tables agree with, so ``audit verify --deep`` walks every
    one: a person, a process and a recommendation through the services, then comments on it, each
    row bulk-loaded beside its ``comment.created`` event (digested and hashed as the application does)."""
    author, _password = services.create_user("bench@example.org", "Bench Author")
    process = services.create_process("bench", "Bench", "citizen-recommendation")
    services.grant_role(process, author, "member")
    rec = services.create_recommendation(process.id, author, "Bench", "Comments follow.")
    seq, prev = audit.head()
    start, now = datetime(2026, 1, 1, tzinfo=UTC), utcnow()
    comment_id = 0
    while seq < count:
        comments, rows = [], []
        for seq in range(seq + 1, min(count, seq + BATCH) + 1):
            comment_id += 1
            body = f"Kommentar {comment_id}"
            comments.append({"id": comment_id, "recommendation_id": rec.id, "author_id": author.id, "body": body,
                             "body_html": f"<p>{body}</p>", "visibility": "public", "created_at": now, "hidden": False})
            at = audit.timestamp(start + timedelta(seconds=seq))
            data = audit.canonical_data({"body": body, "parent_id": None, "visibility": "public"})
            salt = audit.new_salt()
            data_digest = audit.digest_data(salt, data)
            digest = audit.compute_hash_v2(prev, seq, at, author.id, "comment.created", "comment", comment_id, data_digest)
            rows.append({"seq": seq, "v": 2, "at": at, "actor_id": author.id, "action": "comment.created",
                         "subject_type": "comment", "subject_id": comment_id, "data": data, "salt": salt,
                         "data_digest": data_digest, "prev_hash": prev, "hash": digest})
            prev = digest
        db.session.execute(insert(Comment), comments)
        db.session.execute(insert(AuditEvent), rows)
        db.session.commit()
    if db.engine.dialect.name == "postgresql":  # the ids were given: move the sequence past them
        db.session.execute(text("SELECT setval('comments_id_seq', (SELECT max(id) FROM comments))"))
        db.session.commit()


def steering(sizes: dict) -> dict:
    """The steering round at a size: ``recommendations`` in one process, ``waiting`` of them in the
    steering round (the rest decided), five statements each from ten departments, an open session
    with ``agenda`` items and, with ``minutes``, a closed session of that many decided items. People
    and sessions go through the services; volume is bulk-loaded. Prints the administrator's login
    and the sessions' ids."""
    from app.models import Department, Statement

    admin, _ = services.create_user("steering@bench.example", "Steering Admin", password="Rathaus-Platz-4711-Akte")
    member, _ = services.create_user("member@bench.example", "Bench Member", password="Linden-Ufer-0815-Bank")
    process = services.create_process("steer", "Steuerungsrunde", "citizen-recommendation")
    services.grant_role(process, admin, "administrator")
    services.grant_role(process, admin, "moderator")  # moves the minutes' items into the steering round
    services.grant_role(process, member, "member")
    departments = [services.create_department(f"amt-{n}", f"Fachamt {n}") for n in range(10)]
    count, waiting = sizes["recommendations"], sizes["waiting"]
    body = "Ein Text. " * 30
    body_html = markdown.render(body)
    now = utcnow()
    for start in range(0, count, BATCH):
        rows = [{"process_id": process.id, "number": n + 1, "title": f"Empfehlung {n + 1}", "body": body,
                 "body_html": body_html, "state": "steering_review" if n < waiting else ("adopted", "rejected")[n % 2],
                 "version": 1, "state_entered_at": now, "due_at": now + timedelta(days=30 + n % 60) if n < waiting else None,
                 "created_at": now, "updated_at": now} for n in range(start, min(count, start + BATCH))]
        db.session.execute(insert(Recommendation), rows)
        ids = db.session.execute(text("SELECT id FROM recommendations WHERE process_id = :p AND number > :a AND number <= :b"),
                                 {"p": process.id, "a": start, "b": start + BATCH}).scalars().all()
        db.session.execute(insert(RecommendationAuthor), [{"recommendation_id": i, "user_id": member.id, "position": 0} for i in ids])
        db.session.execute(insert(Statement), [
            {"recommendation_id": i, "department_id": departments[(i + k) % 10].id, "question": "Machbar?",
             "status": "answered", "requested_by_id": admin.id, "requested_at": now, "body": "Ja, im Haushalt 2027.",
             "body_html": "<p>Ja, im Haushalt 2027.</p>", "visibility": "public", "answered_by_id": admin.id,
             "answered_at": now} for i in ids for k in range(sizes["statements_each"])])
        db.session.commit()
    waiting_ids = db.session.execute(text("SELECT id FROM recommendations WHERE process_id = :p AND state = 'steering_review' "
                                          "ORDER BY number"), {"p": process.id}).scalars().all()
    agenda = services.create_session(process.id, admin, "Offene Sitzung", "2026-06-01T18:00")
    for rec_id in waiting_ids[: sizes["agenda"]]:
        services.add_to_agenda(agenda.id, admin, rec_id)
    minutes = None
    if sizes.get("minutes"):
        decided = [services.create_recommendation(process.id, member, f"Zur Sitzung {n}", "Ein **Text**. " * 20)
                   for n in range(sizes["minutes"])]
        for rec in decided:
            rec = fire(rec.id, "submit", member, None, rec.version)
        db.session.commit()
        ids = [rec.id for rec in decided]
        for rec_id in ids:
            for _ in range(2):
                version = db.session.get(Recommendation, rec_id, populate_existing=True).version
                state = db.session.get(Recommendation, rec_id).state
                trigger = {"submitted": "start_moderation", "in_moderation": "forward"}.get(state)
                if trigger:
                    fire(rec_id, trigger, admin, None, version)
        meeting = services.create_session(process.id, admin, "Sitzung mit Protokoll", "2026-05-01T18:00",
                                          place="Rathaus", participants="Steering Admin, Bench Member")
        for rec_id in ids:
            services.add_to_agenda(meeting.id, admin, rec_id)
        for n, rec_id in enumerate(ids):
            version = db.session.get(Recommendation, rec_id, populate_existing=True).version
            services.decide(meeting.id, admin, rec_id, ("adopt", "reject")[n % 2], f"Begründung {n}: " + "weil. " * 20, version)
        services.close_session(meeting.id, admin, notes="Nächste Sitzung im Juli.")
        minutes = meeting.id
    dialect = db.engine.dialect.name
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE" if dialect == "sqlite" else "VACUUM ANALYZE")
    return {"email": admin.email, "password": "Rathaus-Platz-4711-Akte", "agenda": agenda.id, "minutes": minutes}


def evaluation(sizes: list[int]) -> dict:
    """A process per size, its items with a history the evaluation counters saw (moved by plain
    UPDATEs, so the database's triggers count every visit as they count the services' moves), a
    statement on every tenth and a follow-up report on every twentieth; public, so that the open-data
    exports carry them. Returns ``{size: slug}``."""
    author, _password = services.create_user("evaluation@bench.example", "Bench Author")
    department = services.create_department("bench-amt", "Bench-Amt")
    body = "Ein Text. " * 30
    body_html = markdown.render(body)
    made = {}
    for count in sizes:
        process = services.create_process(f"evaluation-{count}", f"Auswertung mit {count} Empfehlungen", "citizen-recommendation")
        start = utcnow() - timedelta(days=200)
        for first in range(0, count, BATCH):
            rows = [{"process_id": process.id, "number": n + 1, "title": f"Empfehlung {n + 1}", "body": body, "body_html": body_html,
                     "state": "draft", "version": 1, "state_entered_at": start, "created_at": start, "updated_at": start}
                    for n in range(first, min(count, first + BATCH))]
            db.session.execute(insert(Recommendation), rows)
            db.session.commit()
        ids = db.session.execute(text("SELECT id FROM recommendations WHERE process_id = :p ORDER BY id"), {"p": process.id}).scalars().all()
        for first in range(0, len(ids), BATCH):
            db.session.execute(insert(RecommendationAuthor),
                               [{"recommendation_id": i, "user_id": author.id, "position": 0} for i in ids[first:first + BATCH]])
        # Every item moves on; the number decides how far, and how long each step took. In batches of
        # 200 per transaction: on PostgreSQL every row updates the same few counter rows, and one
        # transaction that updates a row 100,000 times walks an ever longer chain of its versions.
        steps = [("submitted", 0, 1), ("in_moderation", 0, 3), ("steering_review", 1, 20), ("adopted", 2, 60)]
        for state, keep, days in steps:
            for first in range(0, count, 200):
                db.session.execute(text(
                    "UPDATE recommendations SET state = :state, version = version + 1, state_entered_at = :moment, "
                    "due_at = :due WHERE process_id = :p AND number > :a AND number <= :b AND number % 4 >= :keep"),
                    {"state": state, "p": process.id, "keep": keep, "a": first, "b": first + 200,
                     "moment": start + timedelta(days=days, seconds=count % 97),
                     "due": start + timedelta(days=days + 42) if state == "steering_review" else None})
                db.session.commit()
        asked = [i for n, i in enumerate(ids) if n % 10 == 0]
        for first in range(0, len(asked), BATCH):
            db.session.execute(text(
                "INSERT INTO statements (recommendation_id, department_id, status, requested_by_id, requested_at, due_at, visibility) "
                "VALUES (:r, :d, 'requested', :u, :at, :due, 'public')"),
                [{"r": i, "d": department.id, "u": author.id, "at": start + timedelta(days=20),
                  "due": start + timedelta(days=41)} for i in asked[first:first + BATCH]])
        for first in range(0, len(asked), 1000):
            db.session.execute(text(
                "UPDATE statements SET status = 'answered', body = 'Ja.', answered_by_id = :u, answered_at = :at "
                "WHERE department_id = :d AND recommendation_id % 3 = 0 AND recommendation_id >= :a AND recommendation_id <= :b"),
                {"u": author.id, "at": start + timedelta(days=30), "d": department.id,
                 "a": asked[first], "b": asked[min(len(asked), first + 1000) - 1]})
            db.session.commit()
        reported = [i for n, i in enumerate(ids) if n % 20 == 0]
        for first in range(0, len(reported), BATCH):
            db.session.execute(text(
                "INSERT INTO follow_ups (recommendation_id, status, body, body_html, author_id, created_at) "
                "VALUES (:r, 'done', 'Erledigt.', '<p>Erledigt.</p>', :u, :at)"),
                [{"r": i, "u": author.id, "at": start + timedelta(days=90)} for i in reported[first:first + BATCH]])
        db.session.commit()
        made[count] = process.slug
    dialect = db.engine.dialect.name
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE" if dialect == "sqlite" else "VACUUM ANALYZE")
    return made


if __name__ == "__main__":
    app = create_app()
    with app.app_context():
        if sys.argv[1] == "main":
            print(json.dumps(main(json.loads(sys.argv[2]))))
        elif sys.argv[1] == "steering":
            print(json.dumps(steering(json.loads(sys.argv[2]))))
        elif sys.argv[1] == "evaluation":
            print(json.dumps(evaluation(json.loads(sys.argv[2]))))
        elif sys.argv[1] == "explained":
            explained(int(sys.argv[2]))
        else:
            events(int(sys.argv[2]))
