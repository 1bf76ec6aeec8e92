"""One root per side: every exception class of the package is a `BuildError`, a `BundleError` or
an `ExchangeError`, and exactly one of them, so a caller can catch a whole family at once.

The classes are found by importing every module under `tokensmith` (the layers, the review
tools wherever they live, the CLI), not from a list, so a new class cannot be forgotten.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import tokensmith
from tokensmith.runtime.errors import BundleError, ExchangeError
from tokensmith.schema.errors import BuildError

ROOTS = (BuildError, BundleError, ExchangeError)
ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

#: Classes that were ValueErrors before they had a family, and stay so for `except ValueError`.
STILL_VALUE_ERRORS = {
    "Base64Error", "JwkRejected", "JwkSetError", "KeyMaterialError", "MappingError",
    "PathSyntaxError", "SecretError", "SigningKeyError", "StrictJSONError", "VaultError",
}  # fmt: skip


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(tokensmith.__path__, "tokensmith."):
        if info.name.endswith(".__main__"):  # runs the CLI when imported
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


CLASSES = _exception_classes()


def test_the_walk_finds_every_layer_and_the_review_tools() -> None:
    names = {qualified.rsplit(".", 1)[1] for qualified in CLASSES}
    assert {"ConfigReadError", "CompileError", "SideError", "ImportInputError", "InputError",
            "StartupError", "FetchError", "InvalidRequest"} <= names  # fmt: skip
    assert len(CLASSES) >= 30


@pytest.mark.parametrize("qualified", sorted(CLASSES))
def test_every_exception_class_has_exactly_one_root(qualified: str) -> None:
    cls = CLASSES[qualified]
    if cls in ROOTS:
        assert cls.__bases__ == (Exception,)
        return
    families = [root.__name__ for root in ROOTS if issubclass(cls, root)]
    assert len(families) == 1, f"{qualified} is in {families or 'no family'}"


def test_the_build_root_lives_in_the_lowest_build_layer_and_the_others_in_the_runtime() -> None:
    assert BuildError.__module__ == "tokensmith.schema.errors"
    assert BundleError.__module__ == ExchangeError.__module__ == "tokensmith.runtime.errors"


@pytest.mark.parametrize("name", sorted(STILL_VALUE_ERRORS))
def test_former_value_errors_are_still_caught_by_except_value_error(name: str) -> None:
    (cls,) = [c for q, c in CLASSES.items() if q.rsplit(".", 1)[1] == name]
    assert issubclass(cls, ValueError)


def _families_in_the_doc() -> dict[str, str]:
    """Root name -> its bullet in the "Errors" section of docs/architecture.md."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    bullets = [b for b in re.split(r"\n(?=- )|\n\n", section) if b.startswith("- **`")]
    return {re.match(r"- \*\*`(\w+)`\*\*", b)[1]: b for b in bullets}  # type: ignore[index]


def test_the_architecture_doc_lists_every_public_class_under_its_root() -> None:
    families = _families_in_the_doc()
    assert set(families) == {root.__name__ for root in ROOTS}
    for qualified, cls in CLASSES.items():
        if cls.__name__.startswith("_") or cls in ROOTS:
            continue
        (root,) = [r for r in ROOTS if issubclass(cls, r)]
        listed = [name for name, bullet in families.items() if f"`{cls.__name__}`" in bullet]
        assert listed == [root.__name__], f"{qualified} is listed under {listed}"
