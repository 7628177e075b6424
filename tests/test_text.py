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
    for fragment in ("<h1>Title</h1>", "<em>emphasis</em>", "<strong>strong</strong>", "<code>code</code>",
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
