"""A checker for HTML that must hold nothing executable."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "img", "form", "input",
                  "button", "textarea", "frame", "frameset", "base", "link", "meta", "video", "audio",
                  "source", "template", "xmp", "noscript", "applet"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "background", "poster", "data"}


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in DANGEROUS_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            if name == "style":
                self.problems.append(f"{tag} style=")
            if name in URL_ATTRIBUTES and value is not None:
                scheme = urlsplit(value.strip().replace("\x00", "")).scheme.lower()
                if scheme and scheme not in ("http", "https", "mailto"):
                    self.problems.append(f"{tag} {name}={value!r}")


def executable_parts(html: str, allowed_tags: set[str] = frozenset()) -> list[str]:
    """What in ``html`` could run script. Tags in ``allowed_tags`` are the page's own
    (a form, a stylesheet link): allowed as tags, their attributes still checked."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return [p for p in collector.problems if not (p.startswith("<") and p.strip("<>") in allowed_tags)]


OWN_SCRIPT = re.compile(r'<script src="/static/[a-z]+\.js" defer></script>')


def without_own_scripts(html: str) -> str:
    """A page without the scripts it loads from our own static folder (every page loads the
    character counter): what remains must hold no script at all."""
    return OWN_SCRIPT.sub("", html)
