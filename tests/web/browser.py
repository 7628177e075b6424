"""A person with a browser: signs in through the form and submits forms with their CSRF token."""
from __future__ import annotations

import re
from html import unescape

PASSWORD = "a-long-test-password"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def text_of(html: str) -> str:
    """The page's visible text, white space folded, for asserting what a person reads."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


class Browser:
    def __init__(self, app):
        self.client = app.test_client()
        self.page = None

    def get(self, url: str, status: int = 200):
        self.page = self.client.get(url)
        assert self.page.status_code == status, (url, self.page.status_code, text_of(self.page.text)[:500])
        return self.page

    @property
    def text(self) -> str:
        return text_of(self.page.text)

    def token(self) -> str:
        match = TOKEN.search(self.page.text if self.page is not None else "") or TOKEN.search(self.client.get("/login").text)
        return match.group(1)

    def post(self, url: str, data: dict | None = None, status: int | None = None, follow: bool = True):
        payload = {"csrf_token": self.token(), **(data or {})}
        self.page = self.client.post(url, data=payload, follow_redirects=follow)
        if status is not None:
            assert self.page.status_code == status, (url, self.page.status_code, text_of(self.page.text)[:800])
        return self.page

    @property
    def redirected_to(self) -> str | None:
        """Where the last POST's redirect led (post/redirect/get), or None when it answered directly."""
        return self.page.request.path if self.page is not None and self.page.history else None

    def login(self, user, password: str = PASSWORD):
        self.get("/login")
        self.post("/login", {"email": user.email, "password": password}, status=200)
        assert user.name in self.text, self.text[:300]
        return self
