"""Hold one HTTP answer to the runtime's OpenAPI description (`runtime/openapi.json`).

`Description(document).check(method, path, response)` raises `AssertionError` naming what does
not match: an undocumented status, a documented required header missing or off its schema, a
body of another media type or off its schema. It returns the `(path, method, status)` it
matched, so a test can also prove that every documented answer was seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE = "urn:tokensmith:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class Description:
    """An OpenAPI 3.1 document, ready to check answers against."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        resource = Resource(contents=document, specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(BASE, resource)

    def operations(self) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
        """Every documented (path, method, status, response), references resolved."""
        for path, item in self.document["paths"].items():
            for method in METHODS:
                if method in item:
                    for status, response in item[method]["responses"].items():
                        yield path, method, status, self.resolve(response)

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """`node`, or what its local `$ref` points at."""
        return self._follow(node, "")[0]

    def _follow(self, node: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
        """`node` at `pointer`, or what its local `$ref` points at and where that is."""
        while "$ref" in node:
            pointer = node["$ref"].removeprefix("#/")
            target: Any = self.document
            for part in pointer.split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node, pointer

    def validate(self, pointer: str, value: Any) -> list[str]:
        """The messages of `value`'s failures against the schema at `pointer` in the document."""
        validator = Draft202012Validator({"$ref": f"{BASE}#/{pointer}"}, registry=self.registry)
        return [error.message for error in validator.iter_errors(value)]

    def check(self, method: str, path: str, response: httpx.Response) -> tuple[str, str, str]:
        """Assert that `response` to `method path` is one the document describes."""
        method = method.lower()
        operation = self.document["paths"][path][method]
        status = str(response.status_code)
        where = f"{method.upper()} {path} -> {status}"
        assert status in operation["responses"], f"{where}: status not documented"
        documented, at = self._follow(
            operation["responses"][status], _pointer("paths", path, method, "responses", status)
        )
        for name, raw in documented.get("headers", {}).items():
            header, header_at = self._follow(raw, f"{at}/headers/{_pointer(name)}")
            value = response.headers.get(name)
            if value is None:
                assert not header.get("required"), f"{where}: header {name} missing"
                continue
            problems = self.validate(f"{header_at}/schema", value)
            assert not problems, f"{where}: header {name}: {problems}"
        content = documented.get("content")
        if content is None:
            assert response.content == b"", f"{where}: a body where none is documented"
            return path, method, status
        media = response.headers.get("content-type", "").partition(";")[0].strip()
        assert media in content, f"{where}: content type {media!r} not documented"
        if media == "application/json":
            problems = self.validate(f"{at}/content/{_pointer(media)}/schema",
                                     json.loads(response.content))
            assert not problems, f"{where}: body: {problems}"
        return path, method, status
