"""A JSON client that authenticates as a user and checks every answer against the
OpenAPI document the application serves (the ``api`` fixture)."""
from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from app.api.openapi import document


def _operation(method: str, path: str):
    doc = document()
    path = path.split("?")[0].removeprefix("/api/v1")
    matching = [
        (template.count("{"), operations)
        for template, operations in doc["paths"].items()
        if re.match("^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$", path)
    ]
    # A literal segment wins over a parameter (/agenda/ready over /agenda/{rec_id}), as in Flask's routing.
    return min(matching, key=lambda found: found[0])[1].get(method.lower()) if matching else None


def check_against_openapi(method: str, path: str, status: int, payload) -> None:
    operation = _operation(method, path)
    assert operation is not None, f"{method} {path} is not in the OpenAPI document"
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method} {path} answered {status}, which the OpenAPI document does not list"
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema:
        Draft202012Validator({**schema, "components": document()["components"]}).validate(payload)


class Api:
    def __init__(self, client, token):
        self.client = client
        self.token = token

    def request(self, method: str, path: str, user=None, json=None, data=None, headers=None, check=True):
        headers = dict(headers or {})
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        kwargs = {"headers": headers}
        if data is not None:
            kwargs["data"] = data
            kwargs.setdefault("content_type", "application/json")
        elif json is not None:
            kwargs["json"] = json
        response = self.client.open(f"/api/v1{path}", method=method, **kwargs)
        assert response.mimetype == "application/json", response.data[:200]
        if check:
            check_against_openapi(method, f"/api/v1{path}", response.status_code, response.json)
        return response

    def get(self, path, user=None, **kw):
        return self.request("GET", path, user, **kw)

    def post(self, path, user=None, json=None, **kw):
        return self.request("POST", path, user, json=json, **kw)

    def patch(self, path, user=None, json=None, **kw):
        return self.request("PATCH", path, user, json=json, **kw)
