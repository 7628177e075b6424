"""The face (issue 18): branding from the instance folder, drafting limits said aloud, the audit log in
words, the words of roles and dates, the API's index, and progress on a terminal for long CLI work."""
from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from app import audit, services, text
from app.extensions import db
from app.models import Recommendation
from app.web import branding
from app.services.validation import BODY_MAX, COMMENT_MAX
from tests.conftest import audit_count


# -- branding --------------------------------------------------------------------------------------


def test_without_a_branding_file_the_site_wears_its_own_look(app, browser):
    visitor = browser()
    visitor.get("/")
    assert visitor.page.text.count("· Ratschlag</title>") == 1
    assert "branding.css" not in visitor.page.text and "/branding/logo" not in visitor.page.text
    visitor.get("/branding/logo", status=404)
    assert visitor.client.get("/branding.css").text == ""


def test_an_office_sets_name_owner_logo_and_colours_in_the_instance_folder(app, browser):
    folder = Path(app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wappen.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>', encoding="utf-8")
    (folder / "branding.toml").write_text(
        'name = "Mitreden Mitte"\nowner = "Bezirksamt Mitte von Berlin"\nlogo = "wappen.svg"\n'
        '[colours]\nprimary = "#8A1538"\nheader_background = "#5c0e25"\n', encoding="utf-8")
    visitor = browser()
    visitor.get("/")
    assert "· Mitreden Mitte</title>" in visitor.page.text
    header = visitor.page.text[visitor.page.text.index("<header"):visitor.page.text.index("</header>")]
    assert "Bezirksamt Mitte von Berlin" in header and 'src="/branding/logo"' in header
    css_link = re.search(r'href="(/branding\.css\?v=\w+)"', visitor.page.text).group(1)
    css = visitor.client.get(css_link)
    assert css.mimetype == "text/css" and "--primary: #8a1538;" in css.text and "--header-bg: #5c0e25;" in css.text
    logo = visitor.client.get("/branding/logo")
    assert logo.status_code == 200 and logo.mimetype == "image/svg+xml" and "sandbox" in logo.headers["Content-Security-Policy"]
    footer = visitor.page.text[visitor.page.text.index("<footer"):]
    assert "Bezirksamt Mitte von Berlin" in footer and 'href="/imprint"' in footer


def test_unreadable_colours_and_a_logo_outside_the_instance_folder_are_refused(app, caplog, tmp_path, monkeypatch):
    monkeypatch.setattr(branding.log, "disabled", False)  # Alembic's logging set-up in the suite's migrations turns it off
    folder = tmp_path / "instance"
    folder.mkdir()
    (tmp_path / "secret.svg").write_text("<svg/>")
    with caplog.at_level(logging.WARNING, logger="app.web.branding"):
        brand = branding.parse('logo = "../secret.svg"\n[colours]\nprimary = "#ffff00"\ndanger = "red"\nnope = "#000000"\n'
                               'header_text = "#000000"\nheader_background = "#111111"', folder)
    assert brand.logo is None and brand.colours == {"header_background": "#111111"}  # white on it reads well
    assert "contrast" in caplog.text and "no logo file" in caplog.text
    assert branding.parse("this is = not toml [", folder).name == "Ratschlag"
    assert round(branding.contrast("#1d4f91", "#ffffff"), 1) >= 4.5  # the default primary on white



def test_a_text_colour_must_reach_4_5_to_1_on_every_background_it_is_used_on(caplog, tmp_path, monkeypatch):
    """WCAG AA for text: a link colour that reads on white but not on the grey footer or a light
    message is refused, with an error that says where and by how much; a good colour is taken."""
    monkeypatch.setattr(branding.log, "disabled", False)
    assert branding.contrast("#737373", "#ffffff") >= 4.5 > branding.contrast("#737373", "#f3f5f8")  # white alone passes
    with caplog.at_level(logging.ERROR, logger="app.web.branding"):
        brand = branding.parse('[colours]\nprimary = "#737373"\nprimary_dark = "#0f6fc6"\ndanger = "#c8102e"\n', tmp_path)
    assert brand.colours == {"danger": "#c8102e"}
    refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(refusals) == 2, refusals
    primary = next(m for m in refusals if "colour primary = #737373 refused" in m)
    assert "as the text of links on" in primary and "below WCAG AA's 4.5:1 for text" in primary
    assert "the default #1d4f91 is used. Choose a darker colour." in primary
    dark = next(m for m in refusals if "colour primary_dark = #0f6fc6 refused" in m)
    assert "the light blue of hovered outlined buttons" in dark and "4.38:1" in dark  # fine on white (5.1:1)
    # The header: its text against its background as chosen, and against the default background.
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="app.web.branding"):
        assert branding.parse('[colours]\nheader_text = "#1b1f24"\n', tmp_path).colours == {}
        assert branding.parse('[colours]\nheader_background = "#f3f5f8"\nheader_text = "#1b1f24"\n',
                              tmp_path).colours == {"header_background": "#f3f5f8", "header_text": "#1b1f24"}
    assert "Choose a lighter colour." in caplog.text  # dark text on the default dark band
    # Every default reaches the mark where it is used.
    defaults = {key: default for key, (_prop, default) in branding.COLOURS.items()}
    for key in defaults:
        assert all(branding.contrast(text, back) >= 4.5 for _what, text, back in branding.pairs(key, defaults)), key


def test_the_style_sheet_lets_the_brand_colours_through(app):
    """Every custom property the style sheet uses is defined, the defaults in branding.py are the
    style sheet's, and no later rule paints destructive buttons in another colour than ``danger``."""
    css = (Path(app.root_path) / "static" / "style.css").read_text(encoding="utf-8")
    defined = set(re.findall(r"(--[\w-]+)\s*:", css))
    used = set(re.findall(r"var\((--[\w-]+)", css))
    assert used - defined == set()
    root = css[css.index(":root {"):css.index("}", css.index(":root {"))]
    for key, (prop, default) in branding.COLOURS.items():
        value = re.search(rf"{prop}:\s*(#[0-9a-f]+)", root).group(1)
        assert value in (default, default[:4]) or (default == "#ffffff" and value == "#fff"), key
    for background in branding.LINK_BACKGROUNDS:
        assert background in css or background == "#ffffff"
    for selectors, body in re.findall(r"([^{}]*\.danger[^{}]*)\{([^}]*)\}", css):
        for colour in re.findall(r"(?:background|border-color|color)\s*:\s*([^;]+)", body):
            assert colour.strip() in ("var(--danger)", "var(--danger-dark)", "var(--danger-soft)", "#fff"), (selectors, colour)


def test_an_offices_danger_colour_reaches_its_buttons_and_their_hover(app, browser):
    folder = Path(app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "branding.toml").write_text('[colours]\ndanger = "#c8102e"\n', encoding="utf-8")
    visitor = browser()
    visitor.get("/")
    css = visitor.client.get(re.search(r'href="(/branding\.css\?v=\w+)"', visitor.page.text).group(1)).text
    assert "--danger: #c8102e;" in css and f"--danger-dark: {branding.darker('#c8102e')};" in css
    assert branding.contrast(branding.darker("#c8102e"), "#fdecea") >= 4.5


def test_the_navigations_focus_ring_stays_visible_on_a_light_header(app, browser):
    """The ring was a fixed yellow: on a white or yellow header band it all but vanished (1.2:1)."""
    folder = Path(app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "branding.toml").write_text('[colours]\nheader_background = "#ffffff"\nheader_text = "#163a6b"\n',
                                          encoding="utf-8")
    visitor = browser()
    visitor.get("/")
    css = visitor.client.get(re.search(r'href="(/branding\.css\?v=\w+)"', visitor.page.text).group(1)).text
    ring = re.search(r"--nav-focus: (#[0-9a-f]{6});", css).group(1)
    assert ring == "#1b1f24" and branding.contrast(ring, "#ffffff") >= 3
    assert branding.contrast("#ffbf47", "#163a6b") >= 3  # the default ring on the default band


# -- drafting --------------------------------------------------------------------------------------


def test_a_title_too_long_is_refused_at_its_field_not_cut(world, people, browser):
    people(world)
    new = f"/processes/{world.process.slug}/new"
    author = browser(world.author)
    author.get(new)
    assert 'maxlength' not in author.page.text.split('id="title"')[1].split(">")[0]  # the browser cuts nothing
    assert 'rows="18"' in author.page.text and "Images are not supported" in author.text
    events = audit_count()
    author.post(new, {"title": "T" * 201, "body": "Kept", "save": "Save"}, status=200)
    assert "at most 200 characters" in author.text
    field = re.search(r'<input[^>]*id="title"[^>]*>', author.page.text).group(0)
    assert 'aria-invalid="true"' in field and "title-error" in field
    assert "T" * 201 in field  # what was typed stays, whole
    assert audit_count() == events and db.session.scalar(db.select(db.func.count()).select_from(Recommendation)) == 0
    author.post(new, {"title": "T" * 200, "body": "Kept", "save": "Save"}, status=200)
    assert db.session.scalar(db.select(db.func.count()).select_from(Recommendation)) == 1


def test_a_text_too_long_is_refused_at_its_field_kept_and_counted(world, people, browser, rec_in):
    """The body's limit (docs/security.md says why it is 6,000) is counted on the page and said at the field."""
    people(world)
    new = f"/processes/{world.process.slug}/new"
    author = browser(world.author)
    author.get(new)
    for name, limit in (("title", 200), ("body", BODY_MAX)):
        assert f'data-counter-max="{limit}"' in re.search(rf'<[^>]*id="{name}"[^>]*>', author.page.text).group(0)
        assert f'id="{name}-counter"' in author.page.text
    events = audit_count()
    typed = "Ein Satz.\r\n" * (BODY_MAX // 10) + "Zu viel."
    author.post(new, {"title": "Lang", "body": typed, "save": "Save"}, status=200)
    assert "At most 6,000 characters. Please shorten the text." in author.text
    area = re.search(r'<textarea[^>]*id="body"[^>]*>', author.page.text).group(0)
    assert 'aria-invalid="true"' in area and "body-error" in area and "Zu viel." in author.page.text
    assert audit_count() == events and db.session.scalar(db.select(db.func.count()).select_from(Recommendation)) == 0
    author.post(new, {"title": "Lang", "body": typed.removesuffix("Zu viel."), "save": "Save"}, status=200)
    assert db.session.scalar(db.select(db.func.count()).select_from(Recommendation)) == 1
    rec = rec_in(world, "submitted")
    author.get(f"/processes/{world.process.slug}/recommendations/{rec.number}")
    assert f'data-counter-max="{COMMENT_MAX}"' in author.page.text and 'id="new-comment-counter"' in author.page.text


def test_images_become_links_and_the_preview_says_so(world, people, browser):
    html = text.render("Der Plan: ![Lageplan](https://example.org/plan.png) und ![](https://example.org/b.png)")
    assert "<img" not in html
    assert '<a href="https://example.org/plan.png" rel="nofollow noopener">Lageplan</a>' in html
    assert ">https://example.org/b.png</a>" in html
    # An image that is a link's only content: the link keeps the image's description as its name
    # (a link inside a link would leave the outer one empty).
    linked = text.render("[![Lageplan](https://example.org/plan.png)](https://example.org/plan.pdf)")
    assert linked == '<p><a href="https://example.org/plan.pdf" rel="nofollow noopener">Lageplan</a></p>'
    people(world)
    new = f"/processes/{world.process.slug}/new"
    author = browser(world.author)
    author.get(new)
    author.post(new, {"title": "T", "body": "![Lageplan](https://example.org/plan.png)", "preview": "Preview"}, status=200)
    assert "each image appears as a link to it" in author.text and ">Lageplan</a>" in author.page.text
    # Written in HTML, it is a link too, and the preview says so as well.
    author.post(new, {"title": "T", "body": '<img src="https://example.org/plan.png" alt="Lageplan roh">', "preview": "Preview"},
                status=200)
    assert "each image appears as a link to it" in author.text
    assert '<a href="https://example.org/plan.png" rel="nofollow noopener">Lageplan roh</a>' in author.page.text
    assert "an image, also one written in HTML, appears as a link to it" in author.text


def test_a_persons_heading_does_not_compete_with_the_pages_title(world, people, browser, rec_in):
    """One h1 per page: a '# Heading' in a text or a comment comes out one level lower, and the
    drafting help says how headings work, in English and German."""
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Früh beteiligen",
                                         "# Ausgangslage\n\nText.\n\n## Vorschlag\n\n<h1>Roh</h1>")
    services.create_comment(rec.id, world.author, "# Meine Meinung")
    author = browser(world.author)
    author.get(f"/processes/{world.process.slug}/recommendations/{rec.number}")
    html = author.page.text
    assert len(re.findall(r"<h1[\s>]", html)) == 1
    assert "<h2>Ausgangslage</h2>" in html and "<h3>Vorschlag</h3>" in html and "<h2>Roh</h2>" in html
    assert "<h2>Meine Meinung</h2>" in html
    author.get(f"/processes/{world.process.slug}/new")
    assert "# Heading for a section (your headings come under the page's own title)" in author.text
    author.client.get("/language/de")
    author.get(f"/processes/{world.process.slug}/new")
    assert "# Überschrift für einen Abschnitt (Ihre Überschriften stehen unter dem Titel der Seite)" in author.text


# -- the audit log ---------------------------------------------------------------------------------


def test_the_audit_log_speaks_in_words_and_links_what_the_pages_call_it(world, people, rec_in, browser):
    people(world)
    services.create_recommendation(world.other_process.id, world.outsider, "Elsewhere", "One")
    rec = rec_in(world, "submitted")
    assert (rec.id, rec.number) == (2, 1)
    admin = browser(world.superuser)
    admin.get("/admin/audit")
    assert "Recommendation written" in admin.text and "recommendation.created" in admin.text
    link = f'href="/processes/{world.process.slug}/recommendations/{rec.number}"'
    assert f"{link}>Recommendation 1</a>" in admin.page.text and "recommendation 2" not in admin.text
    assert "<details><summary>Show data</summary>" in admin.page.text
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{6}", admin.text)  # no microseconds where people read
    admin.get("/admin/audit?action=recommendation.transitioned")
    table = admin.page.text[admin.page.text.index("<table"):]
    assert "Step in the workflow taken" in table and "Recommendation written" not in table


# -- words -----------------------------------------------------------------------------------------


def test_the_administrator_role_is_not_called_like_the_administration_area(world, people, browser):
    people(world)
    admin = browser(world.superuser)
    admin.client.get("/language/de")
    admin.get(f"/admin/processes/{world.process.slug}")
    assert "Steuerungsrunde" in admin.text
    assert not re.search(r"Administrator\s+Verwaltung", admin.text)


def test_a_queue_says_since_today_instead_of_zero_days(world, people, rec_in, browser):
    people(world)
    rec_in(world, "steering_review")
    admin = browser(world.administrator)
    admin.get("/steering")
    assert "(since today)" in admin.text and "(0 days)" not in admin.text
    admin.client.get("/language/de")
    admin.get("/steering")
    assert "(seit heute)" in admin.text and "(0 Tage)" not in admin.text


def test_the_api_answers_at_its_address_with_an_index(client):
    for path in ("/api/v1", "/api/v1/"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.json["openapi"] == "/api/v1/openapi.json" and answer.json["links"]["processes"] == "/api/v1/processes"


# -- progress on a terminal ------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_long_work_shows_progress_on_a_terminal_and_nothing_when_piped(app, world, rec_in, runner, monkeypatch):
    from app import cli

    rec_in(world, "submitted")
    told: list[int] = []
    assert audit.verify(progress=told.append).ok and sum(told) == audit.head()[0]
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with cli.progress_bar("Verifying", 10) as step:
        step(10)
    assert "Verifying" in terminal.getvalue() and "100%" in terminal.getvalue()
    monkeypatch.undo()
    piped = io.StringIO()
    monkeypatch.setattr("sys.stderr", piped)
    with cli.progress_bar("Verifying", 10) as step:
        assert step is None
    monkeypatch.undo()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and result.output.startswith("ok: ")
    exported = runner.invoke(args=["audit", "export"])
    assert exported.exit_code == 0 and len(exported.output.splitlines()) == audit.head()[0]



def test_the_audit_commands_progress_bars_speak_the_terminals_language(app, world, rec_in, runner, monkeypatch):
    """LANG decides the progress bars' words, as for every other command (they were always in the
    installation's default language); what goes to standard output does not change."""
    import contextlib

    from app import cli

    rec_in(world, "submitted")
    labels: list[str] = []

    @contextlib.contextmanager
    def recording(label, total):
        labels.append(label)
        yield None

    monkeypatch.setattr(cli, "progress_bar", recording)
    for variable in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    outputs = {}
    for lang in ("de_DE.UTF-8", "en_GB.UTF-8"):
        for command in (["audit", "verify"], ["audit", "export"]):
            result = runner.invoke(args=command, env={"LANG": lang})
            assert result.exit_code == 0, result.output
            outputs[(lang, command[1])] = result.output
    assert labels == ["Prüfe die Protokollkette", "Exportiere Protokolleinträge", "Verifying the audit chain",
                      "Exporting audit events"]
    assert outputs[("de_DE.UTF-8", "export")] == outputs[("en_GB.UTF-8", "export")]
    assert outputs[("de_DE.UTF-8", "verify")].startswith("ok: ")

# -- errors at their fields ------------------------------------------------------------------------
