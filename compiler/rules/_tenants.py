"""Issuers shared by many tenants, where the issuer alone says nothing about who the token is for.

A token from such an issuer proves only that *some* customer of the platform asked for it, so
tokensmith must also pin the audience, and for CI platforms (where every workflow can choose its
audience) a claim that names the owner or project.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._urls import split_url


@dataclass(frozen=True)
class MultiTenantIssuer:
    label: str
    #: Why the issuer alone is not enough.
    audience_reason: str
    audience_example: str
    #: Claims that name the owner or project; empty when the audience is enough.
    owner_claims: tuple[str, ...] = ()
    tenant_word: str = "tenant"
    #: The platform's issuer, for hints.
    issuer: str = ""


GITHUB_ACTIONS = MultiTenantIssuer(
    "GitHub Actions (a shared issuer)",
    "every repository on github.com gets tokens from this issuer, so any of them would match",
    "the audience your workflows request, e.g. https://github.com/<owner>",
    ("repository_owner", "repository_owner_id", "repository", "repository_id", "sub"),
    "repository",
    "https://token.actions.githubusercontent.com",
)
GITLAB = MultiTenantIssuer(
    "GitLab.com (a shared issuer)",
    "every project on gitlab.com gets ID tokens from this issuer, so any of them would match",
    "the `aud` of your `id_tokens:` job setting",
    ("namespace_path", "namespace_id", "project_path", "project_id", "sub"),
    "project",
    "https://gitlab.com",
)
TERRAFORM_CLOUD = MultiTenantIssuer(
    "HCP Terraform (a shared issuer)",
    "every organization on app.terraform.io gets tokens from this issuer, so any of them would match",
    "the audience of your workload identity setting",
    ("terraform_organization_id", "terraform_organization_name", "sub"),
    "organization",
    "https://app.terraform.io",
)
GOOGLE = MultiTenantIssuer(
    "Google accounts (a shared issuer)",
    "every app using Google Sign-In gets ID tokens from this issuer, so any of them would match",
    "your OAuth client id",
)
FIREBASE = MultiTenantIssuer(
    "Firebase (keys shared by all projects)",
    "all Firebase projects share one set of signing keys, so only the project id tells your tokens from any other project's, and Firebase requires `aud` to be checked as well as `iss`",
    "your Firebase project id",
)

_EXACT = {
    "https://token.actions.githubusercontent.com": GITHUB_ACTIONS,
    "https://gitlab.com": GITLAB,
    "https://app.terraform.io": TERRAFORM_CLOUD,
    "https://accounts.google.com": GOOGLE,
    "accounts.google.com": GOOGLE,
}
_FIREBASE_PREFIX = "https://securetoken.google.com/"


def multi_tenant_issuer(issuer: str | None) -> MultiTenantIssuer | None:
    """The shared platform `issuer` belongs to, or None. Case and a final `/` are ignored."""
    if issuer is None:
        return None
    text = issuer.strip().lower()
    if text.startswith(_FIREBASE_PREFIX):
        return FIREBASE
    return _EXACT.get(text.rstrip("/"))


#: Hosts that serve the signing keys of a shared CI platform, where every repository, project or
#: organization can get a token with the audience of its choice.
_CI_KEY_HOSTS = {
    "token.actions.githubusercontent.com": GITHUB_ACTIONS,
    "gitlab.com": GITLAB,
    "app.terraform.io": TERRAFORM_CLOUD,
}


def shared_ci_keys(jwks_url: str | None) -> MultiTenantIssuer | None:
    """The shared CI platform whose keys `jwks_url` serves, or None."""
    parts = split_url(jwks_url) if jwks_url is not None else None
    if parts is None or parts.hostname is None:
        return None
    return _CI_KEY_HOSTS.get(parts.hostname.rstrip("."))
