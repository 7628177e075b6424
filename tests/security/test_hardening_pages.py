"""Findings of the second hardening on the pages and in the code under them (docs/security.md lists
each with its fix): redirects after every form, bounded diffs, the audit page, the transaction
discipline."""
from __future__ import annotations

from app import services
from app.extensions import db
from app.models import Recommendation


def big_text(changed: set[int] = frozenset(), lines: int = 3_000) -> str:
    return "\n".join(f"Paragraph {i} changed" if i in changed else f"Paragraph {i} of the text" for i in range(lines))


def test_the_versions_page_shows_changes_with_three_lines_of_context(world, people, browser):
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Long", big_text())
    services.update_recommendation(rec.id, world.author, rec.version, body=big_text({1_500}))
    author = browser(world.author)
    author.get(f"/processes/{world.process.slug}/recommendations/{rec.number}/versions?a=1&b=2")
    assert "removed: Paragraph 1500 of the text" in author.text and "added: Paragraph 1500 changed" in author.text
    assert "Paragraph 1497 of the text" in author.text and "Paragraph 1503 of the text" in author.text
    assert "Paragraph 1496 of the text" not in author.text and "Paragraph 1504 " not in author.text
    assert "… 1499 unchanged lines …" in author.text and "… 1496 unchanged lines …" in author.text
    assert author.page.text.count("<li") < 20


def test_the_versions_page_compares_no_more_than_two_thousand_changed_lines(world, people, browser):
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Long", big_text())
    services.update_recommendation(rec.id, world.author, rec.version, body=big_text(set(range(0, 3_000, 2))))
    author = browser(world.author)
    author.get(f"/processes/{world.process.slug}/recommendations/{rec.number}/versions?a=1&b=2")
    assert "Versions 1 and 2 are too different to compare line by line." in author.text
    assert "Paragraph 1500" not in author.text
