"""Every answer the API gives in the tests, checked against the OpenAPI document the service serves:
the status is documented, the content type is the documented one, and a JSON body matches its
schema. Hooked into the `client` and `db_client` fixtures (conftest.py), so a field added to an
answer without its schema, or an undocumented status, fails the test that produced it."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from kb_service.web.openapi import document


class ResponseCheck:
    def __init__(self, app):
        doc = document(app.routes, app.state.services.corpus)
        self.paths = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), ops)
                      for path, ops in doc["paths"].items()]
        self.validators: dict[int, Draft202012Validator] = {}

    def operation(self, method: str, path: str) -> dict | None:
        for pattern, ops in self.paths:
            if pattern.match(path) and method in ops:
                return ops[method]
        return None

    def __call__(self, response) -> None:
        request = response.request
        op = self.operation(request.method.lower(), request.url.path)
        if op is None:
            return
        status = str(response.status_code)
        answer = op["responses"].get(status) or op["responses"].get(status[0] + "XX")
        where = f"{request.method} {request.url.path} → {status}"
        assert answer is not None, f"{where}: status not in the OpenAPI document"
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if "content" not in answer:     # a documented answer without a body (303 to a page)
            assert not response.read(), f"{where}: a body where the document says none"
            return
        assert media in answer["content"], f"{where}: content type {media!r}, documented {list(answer['content'])}"
        if media != "application/json":
            return
        response.read()
        schema = answer["content"][media]["schema"]
        validator = self.validators.setdefault(id(schema), Draft202012Validator(schema))
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.json())]
        assert not problems, f"{where}: answer does not match its schema: " + "; ".join(problems[:5])


def check_responses(client) -> None:
    """Add the check to a started TestClient."""
    hooks = client.event_hooks
    hooks["response"] = [*hooks.get("response", []), ResponseCheck(client.app)]
    client.event_hooks = hooks
