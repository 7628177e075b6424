"""The edit conflict page (issue 18, item 7): who saved what and when, their text beside yours, and
the three ways on: keep yours, take theirs, or merge by hand."""
from __future__ import annotations

import re

from app import services
from app.extensions import db
from app.models import Recommendation
from tests.conftest import audit_count


def _collide(world, people, browser):
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Titel", "eins\nzwei\ndrei")
    services.add_author(rec.id, world.author, world.coauthor)
    edit = f"/processes/{world.process.slug}/recommendations/{rec.number}/edit"
    mine = browser(world.author)
    mine.get(edit)
    seen = re.search(r'name="version" type="hidden" value="(\d+)"|value="(\d+)"[^>]*name="version"', mine.page.text)
    seen = next(v for v in seen.groups() if v)
    db.session.expire_all()
    services.update_recommendation(rec.id, world.coauthor, db.session.get(Recommendation, rec.id).version,
                                   body="eins\nZWEI vom Koautor\ndrei")
    mine.post(edit, {"title": "Titel", "body": "eins\nzwei\ndrei\nvier von mir", "version": seen, "save": "Save"}, status=200)
    return rec, edit, mine


def test_the_conflict_page_shows_who_saved_and_both_texts(world, people, browser):
    rec, edit, mine = _collide(world, people, browser)
    assert mine.redirected_to == edit
    assert re.search(r"Coauthor saved version 2 on [^,]+, \d{4}, [^,]+, while you were writing\.", mine.text), mine.text
    theirs = re.search(r'<textarea id="their-body" rows="16" readonly>(.*?)</textarea>', mine.page.text, re.S).group(1)
    assert theirs.strip() == "eins\nZWEI vom Koautor\ndrei"
    assert re.search(r'<textarea[^>]*name="body"[^>]*>\s*eins\nzwei\ndrei\nvier von mir</textarea>', mine.page.text)
    assert "Save my text (replaces theirs)" in mine.text and "merge by hand" in mine.text
    take = f'href="/processes/{world.process.slug}/recommendations/{rec.number}"'
    assert f'{take}>take theirs and discard your changes' in mine.page.text
    # Merged by hand: saved over theirs with the version shown.
    events = audit_count()
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', mine.page.text).group(1)
    mine.post(edit, {"title": "Titel", "body": "eins\nZWEI vom Koautor\ndrei\nvier von mir", "version": version,
                     "save": "Save"}, status=200)
    assert "Your changes are saved" in mine.text and audit_count() == events + 1
    db.session.expire_all()
    assert db.session.get(Recommendation, rec.id).body == "eins\nZWEI vom Koautor\ndrei\nvier von mir"


def test_the_conflict_page_speaks_german(world, people, browser):
    people(world)
    rec, edit, mine = _collide(world, people, browser)
    mine.client.get("/language/de")
    # The kept form was shown once; collide again to read it in German.
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', mine.page.text).group(1)
    db.session.expire_all()
    services.update_recommendation(rec.id, world.coauthor, db.session.get(Recommendation, rec.id).version, body="neu")
    mine.post(edit, {"title": "Titel", "body": "meins", "version": version, "save": "Save"}, status=200)
    assert "Inzwischen hat jemand anderes gespeichert" in mine.text
    assert "Coauthor hat am" in mine.text and "Version 3 gespeichert" in mine.text
    assert "Meinen Text speichern (ersetzt den anderen)" in mine.text
