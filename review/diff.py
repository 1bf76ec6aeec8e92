"""Semantic differences between two revisions of a config, for review.

Both sides are first reduced to a *view*: plain data with every default resolved (a token
provider's audience and issuer, `expires_in` in seconds) and key sources described without
secrets, so that a change of spelling is not a change and a change of meaning always is. A side
may be a config or, when the caller says so, a compiled bundle, read through its `config.json`
alone (see `bundle_side.py`: a diff never runs code from either side).

A changed `require` condition is marked `loosened` or `tightened` when that is certain
(`condition_changes.py`), and so is its provider.

Then, for every test case of either side, both sides exchange the case's claims and the issued
claims (without `iat`, `exp`, `jti`) are compared: the effect of the change, not only its text.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tokensmith.compiler.bundle import runtime_config
from tokensmith.compiler.check import CheckResult
from tokensmith.runtime.bundle import MANIFEST, Bundle
from tokensmith.runtime.errors import BundleError
from tokensmith.runtime.model import RuntimeConfig, SecretRef
from tokensmith.schema.errors import BuildError
from tokensmith.schema.loader import ConfigReadError
from tokensmith.schema.models import ConfigTest

from .bundle_side import read_bundle_config
from .condition_changes import LOOSENED, NOTHING, SAME, TIGHTENED, effect, flatten_conditions
from .condition_changes import shown as conditions_shown
from .flatten import as_json, flatten_mapping
from .outcome import Outcome, effective_now, evaluate, prepare_index
from .prepared import prepare

#: Claims that change with the clock alone, left out of the comparison of outcomes.
CLOCK_CLAIMS = frozenset({"iat", "exp", "nbf", "jti"})
SECTIONS = (
    ("identity_providers", "identity provider"),
    ("token_providers", "token provider"),
    ("signing_keys", "signing key"),
    ("signatures", "bundle signature"),
)
#: View fields that hold mappings: compared key by key.
MAPPING_FIELDS = frozenset({"mapping", "require"})
UNKNOWN = "(compiled; not kept in this bundle)"


@dataclass(frozen=True)
class Side:
    """One revision: its label (the path given), view, bundle (to run cases) and test cases."""

    label: str
    kind: str  # "config" | "bundle"
    view: Mapping[str, Any]
    bundle: Bundle
    cases: tuple[ConfigTest, ...] = ()


@dataclass(frozen=True)
class FieldChange:
    """One field of one named item: `old`/`new` are display strings, None when absent."""

    field: str
    old: str | None
    new: str | None
    #: for a `require` condition: `loosened`, `tightened` or `same meaning` when that is certain
    effect: str | None = None


@dataclass(frozen=True)
class ItemChange:
    """An item added, removed or changed in a section (or a top-level field)."""

    section: str  # "identity_providers", ..., or "config" for top-level fields
    name: str
    kind: str  # "added" | "removed" | "changed"
    fields: tuple[FieldChange, ...] = ()
    note: str | None = None  # e.g. "rotated" for a signing key


@dataclass(frozen=True)
class CaseChange:
    """How one test case's exchange differs between the sides."""

    name: str
    old: Outcome
    new: Outcome
    claims: tuple[FieldChange, ...]

    @property
    def changed(self) -> bool:
        return bool(self.claims) or verdict(self.old) != verdict(self.new)


@dataclass(frozen=True)
class Diff:
    old: str
    new: str
    items: tuple[ItemChange, ...]
    cases: tuple[CaseChange, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.items and not any(c.changed for c in self.cases)


# --- views -----------------------------------------------------------------------------------


def view_of_bundle(config: RuntimeConfig, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The view of a bundle's `config.json` (`config` parsed, `raw` as decoded).

    Bundles from this compiler keep each `mapping` and `require` beside the compiled code; an
    older bundle without them shows them as unknown.
    """
    raw_idps, raw_tps = raw.get("identity_providers", {}), raw.get("token_providers", {})
    return {
        "config": {
            "issuer": config.issuer, "cors": list(config.cors_allow_origins),
            "cors_allow_headers": list(config.cors_allow_headers),
        },
        "signing_keys": {
            kid: {"algorithm": k.algorithm, "key": _describe(k.secret or k.private_key)}
            for kid, k in config.signing_keys.items()
        },
        "identity_providers": {
            name: {
                "issuer": p.issuer, "audience": p.audience, "algorithms": list(p.algorithms),
                "leeway": f"{p.leeway}s", "allow_insecure_http": p.allow_insecure_http,
                "key_source": _key_source(p.jwks_url, p.discovery, p.issuer,
                                          None if p.jwks is None else dict(p.jwks), p.secret),
                "require": _kept(raw_idps.get(name), "require",
                                 UNKNOWN if p.has_require else None),
                "mapping": _kept(raw_idps.get(name), "mapping", UNKNOWN),
            }
            for name, p in config.identity_providers.items()
        },
        "token_providers": {
            svc: {
                "signing_key": t.signing_key, "expires_in": duration(t.expires_in),
                "audience": t.audience, "issuer": t.issuer,
                "identity_providers": _allowed(t.identity_providers), "claims": t.claims,
                "outlive_subject_token": t.outlive_subject_token,
                "require": _kept(raw_tps.get(svc), "require",
                                 UNKNOWN if t.has_require else None),
                "mapping": _kept(raw_tps.get(svc), "mapping", UNKNOWN),
            }
            for svc, t in config.token_providers.items()
        },
    }


def _kept(raw: Any, name: str, default: Any) -> Any:
    """A mapping object the bundle kept in `config.json`, else `default`."""
    if isinstance(raw, dict) and name in raw:
        value = raw[name]
        return dict(value) if isinstance(value, dict) else None if value is None else default
    return default


def duration(seconds: int | None) -> str | None:
    """`15m`, `2h`, `90s`: the largest unit that divides evenly."""
    if seconds is None:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _allowed(names: Sequence[str] | None) -> str | list[str]:
    return "all" if names is None else sorted(names)


def _describe(ref: SecretRef | None) -> str | None:
    """A reference as the user wrote it; sealed text only by a fingerprint, to see a rotation."""
    if ref is None:
        return None
    value, kind, encoding = ref.value, ref.kind, ref.encoding
    text = f"{{{kind}: {value}}}" if kind != "encrypted" else (
        f"{{encrypted}} (sha256 {hashlib.sha256(str(value).encode()).hexdigest()[:12]})")
    return text if encoding == "utf8" else f"{text} ({encoding})"


def _key_source(
    jwks_url: str | None,
    discovery: bool,
    issuer: str | None,
    jwks: Mapping[str, Any] | None,
    secret: SecretRef | None,
) -> str:
    if jwks_url is not None:
        return f"jwks_url {jwks_url}"
    if discovery:
        return f"discovery {(issuer or '').rstrip('/')}/.well-known/openid-configuration"
    if jwks is not None:
        keys = jwks.get("keys") or []
        kids = ", ".join(str(k.get("kid", "?")) for k in keys if isinstance(k, dict)) or "none"
        canonical = json.dumps(jwks, sort_keys=True, separators=(",", ":")).encode()
        return f"inline jwks (kid {kids}; sha256 {hashlib.sha256(canonical).hexdigest()[:12]})"
    return f"secret {_describe(secret)}"


# --- comparing -------------------------------------------------------------------------------


def diff_sides(old: Side, new: Side, now: float | None = None) -> Diff:
    """Every semantic change from `old` to `new`, then the change of every test case."""
    items: list[ItemChange] = _top_level(old.view["config"], new.view["config"])
    for section, _ in SECTIONS:
        items += _section(section, old.view[section], new.view[section])
    notes = [
        f"{side.label} is a bundle: it has no tests of its own; the other side's cases run "
        "against its compiled mappings"
        for side in (old, new) if side.kind == "bundle"
    ]
    return Diff(old.label, new.label, tuple(items), tuple(_cases(old, new, now)), tuple(notes))


def _top_level(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ItemChange]:
    fields = _fields(old, new)
    return [ItemChange("config", "config", "changed", tuple(fields))] if fields else []


def _section(section: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ItemChange]:
    changes: list[ItemChange] = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            shown = tuple(FieldChange(k, None, _show(v, k)) for k, v in new[name].items()
                          if v is not None and v is not False)
            changes.append(ItemChange(section, name, "added", shown))
        elif name not in new:
            shown = tuple(FieldChange(k, _show(v, k), None) for k, v in old[name].items()
                          if v is not None and v is not False)
            changes.append(ItemChange(section, name, "removed", shown))
        else:
            fields = _fields(old[name], new[name])
            if fields:
                note = _note(section, fields)
                changes.append(ItemChange(section, name, "changed", tuple(fields), note))
    return changes


def _note(section: str, fields: Sequence[FieldChange]) -> str | None:
    names = {f.field for f in fields}
    if section == "signing_keys" and names & {"key", "algorithm"}:
        return "rotated"
    notes = ["signing key rotated"] if section == "token_providers" and "signing_key" in names else []
    effects = {f.effect for f in fields if f.field.startswith("require.")}
    if effects and effects <= {LOOSENED, SAME}:
        notes.append(f"conditions {LOOSENED}" if LOOSENED in effects else "")
    elif effects and effects <= {TIGHTENED, SAME}:
        notes.append(f"conditions {TIGHTENED}" if TIGHTENED in effects else "")
    elif {LOOSENED, TIGHTENED} <= effects:
        notes.append(f"conditions {LOOSENED} and {TIGHTENED}")
    return ", ".join(n for n in notes if n) or None


def _fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    changes: list[FieldChange] = []
    for name in [*old, *(k for k in new if k not in old)]:
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if name in MAPPING_FIELDS and isinstance(before, dict | None) and isinstance(
            after, dict | None
        ):
            changes += _mapping_changes(name, before or {}, after or {})
        else:
            changes.append(FieldChange(name, _show(before, name), _show(after, name)))
    return changes


def _mapping_changes(
    name: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[FieldChange]:
    """Key by key: added, removed, re-pointed (`<- $.path`) or changed constants (`= value`);
    conditions one by one, each marked loosened or tightened when that is certain."""
    if name == "require":
        return _condition_changes(old, new)
    before, after = flatten_mapping(old), flatten_mapping(new)
    return [
        FieldChange(f"{name}.{key}", before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _condition_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    before, after = flatten_conditions(old), flatten_conditions(new)
    changes = []
    for place in sorted(set(before) | set(after)):
        was, now = before.get(place), after.get(place)
        if place in before and place in after and as_json(was) == as_json(now):
            continue
        changes.append(FieldChange(
            f"require.{place}",
            None if place not in before else conditions_shown(was),
            None if place not in after else conditions_shown(now),
            effect(place, before.get(place, NOTHING), after.get(place, NOTHING), list(before),
                   list(after)),
        ))
    return changes


def _show(value: Any, name: str = "") -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and name == "require":
        flat = flatten_conditions(value)
        return ", ".join(f"{k} {conditions_shown(v)}" for k, v in flat.items()) or "{}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in flatten_mapping(value).items()) or "{}"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(value) + "]"
    return as_json(value)


def _cases(old: Side, new: Side, now: float | None) -> list[CaseChange]:
    """Each case of either side, NEW's definition when both have one, run on both sides."""
    by_name = {case.name: case for case in old.cases}
    old_inputs = {c.name: (c.service, c.token, c.now) for c in old.cases}
    by_name.update({case.name: case for case in new.cases})
    old_index, new_index = prepare_index(old.bundle), prepare_index(new.bundle)
    results = []
    for name, case in by_name.items():
        if old_inputs.get(name, (case.service, case.token, case.now)) != (
            case.service, case.token, case.now
        ):
            name = f"{name} (its token or service changed; NEW's is used)"
        at = effective_now(case.now, now)
        before = evaluate(old.bundle, old_index, case.token, case.service, at)
        after = evaluate(new.bundle, new_index, case.token, case.service, at)
        results.append(CaseChange(name, before, after, tuple(_claim_changes(before, after))))
    return results


def _claim_changes(old: Outcome, new: Outcome) -> list[FieldChange]:
    if not (old.issued and new.issued):
        return []
    before, after = _flat_claims(old.claims or {}), _flat_claims(new.claims or {})
    return [
        FieldChange(key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _flat_claims(claims: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in claims.items():
        if not prefix and key in CLOCK_CLAIMS:
            continue
        if isinstance(value, dict) and value:
            out.update(_flat_claims(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = as_json(value)
    return out


def verdict(outcome: Outcome) -> str:
    """`issued (auth0)` or `refused: invalid_request (expired)`."""
    if outcome.issued:
        return f"issued ({outcome.identity_provider})"
    return f"refused: {outcome.error} ({outcome.reason})"


# --- loading a side ---------------------------------------------------------------------------


class SideError(BuildError):
    """A side cannot be read (exit 2); `findings` is set when it does not pass check (exit 1)."""

    def __init__(self, message: str, check: CheckResult | None = None) -> None:
        super().__init__(message)
        self.check = check


def load_side(path: str, *, version: str, bundle: bool = False) -> Side:
    """A config file or directory, compiled in memory as tokensmith `version` would; or, when
    the caller says so (`bundle=True`), a bundle directory read through its `config.json`.

    What a side holds never decides how it is read, and neither kind of side runs code from
    it: a config is compiled by this tokensmith, a bundle's `mappings.py` is never opened.
    """
    if bundle:
        try:
            loaded, raw = read_bundle_config(path)
        except (BundleError, OSError) as exc:
            raise SideError(f"{path}: {exc}") from None
        view = {**view_of_bundle(loaded.config, raw), "signatures": signatures_view(path)}
        return Side(path, "bundle", view, loaded)
    try:
        prepared = prepare(path, version=version)
    except ConfigReadError as exc:
        raise SideError(f"{exc}{_bundle_hint(path)}") from None
    config = prepared.check.config
    if prepared.bundle is None or config is None:
        raise SideError(f"{path} does not pass `tokensmith check`{_bundle_hint(path)}",
                        prepared.check)
    # A config is viewed through the config.json it compiles to: one view for both kinds of side.
    view = {**view_of_bundle(prepared.bundle.config, runtime_config(config)), "signatures": {}}
    return Side(path, "config", view, prepared.bundle, config.tests)


def _bundle_hint(path: str) -> str:
    """A hint for a bundle given as a config (only the message depends on what is there)."""
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, MANIFEST)):
        return " (it looks like a bundle: pass --bundle to read a side as one)"
    return ""


def signatures_view(path: str) -> dict[str, dict[str, str]]:
    """A bundle's signatures by signer key id, as they describe themselves (`tokensmith
    verify` judges them; a diff only shows signers added or removed and expiry changed)."""
    from tokensmith.runtime.bundle import SIGNATURES, SIZE_LIMITS
    from tokensmith.runtime.bundle_signatures import describe

    try:
        with open(os.path.join(path, SIGNATURES), "rb") as handle:
            data = handle.read(SIZE_LIMITS[SIGNATURES] + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SideError(f"{path}/{SIGNATURES}: {exc.strerror}") from None
    return describe(data)
