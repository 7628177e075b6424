"""Pages and queues name items by their workflow's noun, and queues hold only what the reader can act on."""
from __future__ import annotations

from app import services
from tests.web.browser import Browser, text_of


def main_text(browser: Browser) -> str:
    """The page's own content (the header's navigation names the person's own lists)."""
    html = browser.page.text
    return text_of(html[html.index("<main"):html.index("</main>")])


def test_a_concern_process_speaks_of_concerns(app, concern_world, people, rec_in):
    world = people(concern_world)
    rec = rec_in(world, "received", title="Laterne defekt")
    author = Browser(app).login(world.author)
    author.get(f"/processes/{world.process.slug}")
    assert "Write a concern" in author.text and "How a concern moves" in author.text
    assert "Concerns" in author.text and "1 concern" in author.text and "recommendation" not in main_text(author).lower()
    author.get(f"/processes/{world.process.slug}/recommendations/{rec.number}")
    assert "Concern 1: Laterne defekt" in author.text
    author.get(f"/processes/{world.process.slug}/new")
    assert "New concern" in author.text
    german = Browser(app).login(world.author)
    german.client.get("/language/de?next=/")
    german.get(f"/processes/{world.process.slug}")
    assert "Anliegen schreiben" in german.text and "1 Anliegen" in german.text and "Empfehlung" not in main_text(german)


def test_a_recommendation_process_still_speaks_of_recommendations(app, world, people, rec_in):
    people(world)
    rec_in(world, "draft", title="Früh ankündigen")
    author = Browser(app).login(world.author)
    author.get(f"/processes/{world.process.slug}")
    assert "Write a recommendation" in author.text and "1 recommendation" in author.text
    author.get(f"/processes/{world.process.slug}/recommendations/1")
    assert "Recommendation 1: Früh ankündigen" in author.text


def test_queues_name_items_by_their_workflow_and_hold_only_what_the_reader_can_act_on(app, make_user, people, rec_in):
    from tests.conftest import build_world
    concerns = people(build_world(make_user, "citizen-concern", "concerns"))
    rec_in(concerns, "received", title="Laterne defekt")
    moderator = Browser(app).login(concerns.moderator)
    moderator.get("/moderation")
    assert "Concern 1: Laterne defekt" in moderator.text
    moderator.get(f"/processes/{concerns.process.slug}/recommendations/1")
    moderator.post(f"/processes/{concerns.process.slug}/recommendations/1/transition",
                   {"trigger": "triage", "version": "1", "note": ""}, status=200)
    assert "Done: Concern 1 is now “Triaged”." in moderator.text
    # A moderator who writes a concern themselves cannot triage it, so it does not wait for them.
    own = services.create_recommendation(concerns.process.id, concerns.moderator, "Eigenes Anliegen", "Text")
    moderator.get("/moderation")
    assert "Eigenes Anliegen" not in moderator.text and "Laterne defekt" in moderator.text
    # ... while it waits for every other moderator of the process.
    second = make_user("Second moderator")
    services.grant_role(concerns.process, second, "moderator")
    from app.models import User
    from app.transactions import write_transaction
    from tests.web.browser import PASSWORD
    with write_transaction() as session:
        session.get(User, second.id).password_hash = services.hash_password(PASSWORD)
    other = Browser(app).login(second)
    other.get("/moderation")
    assert "Concern 2: Eigenes Anliegen" in other.text and own.number == 2
    # Forwarded concerns wait for the administrators, named as concerns too.
    forwarded = rec_in(concerns, "forwarded", title="Weitergeleitet")
    steering = Browser(app).login(concerns.administrator)
    steering.get("/steering")
    assert f"Concern {forwarded.number}: Weitergeleitet" in steering.text and "Laterne defekt" not in steering.text
