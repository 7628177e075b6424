"""Markdown in, safe HTML out: nothing executable survives, the useful formatting does."""
from __future__ import annotations

import pytest

from app.text import render
from tests.html_safety import executable_parts

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)><circle/></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"jav&#x61;script:alert(1)\">x</a>",
    "<a href=\"jav&#97;script:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<a href=\"java\tscript:alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<a href=\"http://ok.example\" onclick=\"alert(1)\">x</a>",
    "<a href=\"http://ok.example\" onmouseover=alert(1)>x</a>",
    "<p style=\"background:url(javascript:alert(1))\">x</p>",
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](  javascript:alert(1)  )",
    "[click](data:text/html,<script>alert(1)</script>)",
    "[click][ref]\n\n[ref]: javascript:alert(1)",
    "![img](javascript:alert(1))",
    "![img](http://x.example/a.png\" onerror=\"alert(1))",
    "<javascript:alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<form action=\"javascript:alert(1)\"><button>x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<style>*{background:url(javascript:alert(1))}</style>",
    "<base href=\"javascript:alert(1)//\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<a href=\"http://ok.example\"><img src=x onerror=alert(1)></a>",
    "<table><tr><td onclick=alert(1)>x</td></tr></table>",
    "<video><source onerror=alert(1)></video>",
    "<xmp><script>alert(1)</script></xmp>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_nothing_executable_survives(source):
    html = render(source)
    assert executable_parts(html) == [], html


@pytest.mark.parametrize("html", ['<a href="javascript:alert(1)">x</a>', '<a href=" JaVa&#x53;cript:x">x</a>',
                                  "<img src=x>", "<p onclick=x>", "<script>", '<p style="x">', "<svg>"])
def test_the_checker_itself_finds_what_could_run(html):
    assert executable_parts(html) != []


def test_useful_formatting_survives():
    source = ("# Title\n\nSome *emphasis*, **strong**, `code` and a [link](https://example.org).\n\n"
              "> a quote\n\n- one\n- two\n\n1. first\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
              "```\nblock\n```\n\n[mail](mailto:ag@example.org)")
    html = render(source)
    for fragment in ("<h2>Title</h2>", "<em>emphasis</em>", "<strong>strong</strong>", "<code>code</code>",
                     '<a href="https://example.org" rel="nofollow noopener">link</a>', "<blockquote>",
                     "<ul>", "<ol>", "<table>", "<td>1</td>", "<pre><code>block", 'href="mailto:ag@example.org"'):
        assert fragment in html, fragment


def test_every_link_gets_nofollow_noopener():
    html = render('see http://example.org and <a href="https://x.example" rel="opener">x</a>')
    assert html.count('rel="nofollow noopener"') == 2
    assert 'rel="opener"' not in html


def test_code_is_shown_not_run():
    html = render("`<b>bold</b>`")
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


@pytest.mark.parametrize("address", ["ssh://evil.example.org/x", "ftp://files.example.org/a", "xmpp://chat.example.org",
                                     "irc://irc.example.org/chan", "sftp://x.example.org/y", "telnet://x.example.org"])
def test_linkify_links_only_http_https_and_mailto(address):
    html = render(f"see {address} or https://ok.example.org")
    assert 'href="https://ok.example.org"' in html
    assert address in html  # the text stays
    assert html.count("<a ") == 1, html


def test_every_href_in_the_output_is_http_https_mailto_or_relative():
    import re
    source = ("ssh://a.example.org ftp://b.example.org www.c.example.org mailto:d@e.example.org xmpp:f@g.example.org\n\n"
              "[x](ftp://h.example) [y](/relative) [z](#anchor) <a href=\"ftp://i.example\">i</a> "
              "<a href=\"HTTPS://j.example\">j</a> [k](tel:123) [l](irc://m.example)")
    hrefs = re.findall(r'href="([^"]*)"', render(source))
    assert hrefs and all(re.match(r"(https?:|mailto:|/|#)", h, re.I) for h in hrefs), hrefs


def test_table_alignment_and_strikethrough():
    html = render("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n\n~~gone~~")
    for fragment in ('<th align="left">a</th>', '<td align="center">2</td>', '<td align="right">3</td>', "<s>gone</s>"):
        assert fragment in html, html
    assert "style" not in html


def test_ordinary_documents_keep_their_shape():
    html = render("## Sub\n\nA paragraph\nwith a soft break and a hard one  \nhere.\n\n"
                  "1. one\n2. two\n\n- a\n    - nested\n\n5. five\n\n***bold italic*** and <sub>x</sub><sup>2</sup>")
    for fragment in ("<h3>Sub</h3>", "<br>", '<ol start="5">', "<ul>\n<li>nested</li>", "<sub>x</sub>",
                     "<sup>2</sup>", "<em><strong>bold italic</strong></em>"):
        assert fragment in html, (fragment, html)


def test_nesting_is_bounded_and_text_before_it_survives():
    from app.text import MAX_NESTING
    html = render("> " * 10_000 + "deep\n\nafter")
    assert html.count("<blockquote>") <= MAX_NESTING
    assert "after" in html or html.count("<blockquote>") == MAX_NESTING
    html = render("*a " * 5_000 + "end")
    assert "end" in html


def test_the_walker_emits_what_html5libs_own_walker_emits():
    """The quadratic-free walker is a drop-in: the same tokens for documents of every shape."""
    from bleach import html5lib_shim
    from app.text import _Walker, _cleaner
    original = html5lib_shim.getTreeWalker("etree")
    sources = HOSTILE + ["# T\n\n| a |\n|---|\n| 1 |\n| 2 |\n\n```\nx\n```\n\n- *a* b\n- c **d** e\n\n> q *r* s\n\ntail",
                         "<p>a<em>b</em>c<strong>d<em>e</em>f</strong>g</p>h<br>i", "", "plain"]
    for source in sources:
        dom = _cleaner.parser.parseFragment(source if source.startswith("<") else render(source))
        assert list(_Walker(dom)) == list(original(dom)), source


def test_a_persons_headings_come_under_the_pages_own_title():
    """The page's title is its only h1: every heading a person writes is one level lower, in
    Markdown and in HTML; an operator's page (sections from ##) only loses its h1."""
    from app.text import render_page

    html = render("# Eins\n\n## Zwei\n\n### Drei\n\n###### Sechs\n\n<h1>Roh</h1>\n\n<H2 id=x>Roh zwei</H2>\n\nEins\n===")
    assert "<h1" not in html.lower()
    for fragment in ("<h2>Eins</h2>", "<h3>Zwei</h3>", "<h4>Drei</h4>", "<h6>Sechs</h6>", "<h2>Roh</h2>", "<h3>Roh zwei</h3>"):
        assert fragment in html, (fragment, html)
    assert html.count("<h2>") == 3  # the setext heading too
    page = render_page("# Titel\n\n## Abschnitt\n\n### Unterabschnitt")
    assert page == "<h2>Titel</h2>\n<h2>Abschnitt</h2>\n<h3>Unterabschnitt</h3>"


@pytest.mark.parametrize(("source", "expected"), [
    ('<img src="https://example.org/plan.png" alt="Lageplan">',
     '<a href="https://example.org/plan.png" rel="nofollow noopener">Lageplan</a>'),
    ('Siehe <img src="https://example.org/plan.png"> hier',
     '<p>Siehe <a href="https://example.org/plan.png" rel="nofollow noopener">https://example.org/plan.png</a> hier</p>'),
    ('<IMG SRC="https://example.org/a.png" ALT="groß"/>', '<a href="https://example.org/a.png" rel="nofollow noopener">groß</a>'),
    ('<img src="javascript:alert(1)" alt="Bild" onerror="alert(2)">', "Bild"),  # no address to link: its name stays
    ('<img src="data:image/png;base64,AAAA">', ""),
    ('<img alt="nur beschrieben">', "nur beschrieben"),
    ('<a href="https://example.org/"><img src="https://example.org/a.png" alt="im Link"></a>',
     '<p><a href="https://example.org/" rel="nofollow noopener">im Link</a></p>'),  # no link inside a link
])
def test_an_image_written_in_html_becomes_a_link_to_it_as_in_markdown(source, expected):
    html = render(source)
    assert html == expected
    assert "<img" not in html.lower() and "onerror" not in html and "javascript" not in html
