"""Post the tokensmith diff as one pull request comment, updated on every push (`action.yml`).

    python3 post_diff_comment.py DIFF_FILE

Reads `GITHUB_TOKEN`, `PR_NUMBER`, `GITHUB_REPOSITORY` and `GITHUB_API_URL` from the environment.
The comment is found again by the marker its body opens with, among the comments of bots (the
token of a workflow comments as `github-actions[bot]`): a person's comment is never edited.
Without a token or a pull request it posts nothing and says so; when GitHub refuses (the
read-only token of a fork's pull request) it warns. Neither fails the job: the diff is in the
job summary either way. Standard library only: it runs on the runner's own Python.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

MARKER = "<!-- tokensmith-diff -->"
#: GitHub refuses comments over 65,536 characters.
MAX_BODY = 60_000
#: Pages of 100 comments searched for the earlier comment; a longer thread gets a new one.
MAX_PAGES = 30
TIMEOUT_SECONDS = 30


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: post_diff_comment.py DIFF_FILE", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as handle:
            body = handle.read()
    except OSError:
        _annotate("warning", "no diff was made: see the Diff step")
        return 0
    token = os.environ.get("GITHUB_TOKEN", "")
    number = os.environ.get("PR_NUMBER", "")
    if not token or not number:
        _annotate("notice", "the diff is in the job summary, not in a comment: "
                  + ("no token" if not token else "not a pull request"))
        return 0
    api = Api(os.environ.get("GITHUB_API_URL", "https://api.github.com"), token)
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    try:
        done = post_or_update(api, repo, number, _cut(body))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        code = exc.code if isinstance(exc, urllib.error.HTTPError) else type(exc).__name__
        _annotate("warning", f"GitHub did not take the diff comment ({code}): it is in the "
                  "job summary")
        return 0
    print(f"tokensmith diff: {done} the pull request comment")
    return 0


class Api:
    """The few calls of GitHub's REST API this needs."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "tokensmith-action")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return json.loads(response.read() or b"null")


def post_or_update(api: Api, repo: str, number: str, body: str) -> str:
    """Update the bot's earlier diff comment, or post a new one; says which."""
    earlier = _earlier_comment(api, repo, number)
    if earlier is not None:
        api.call("PATCH", f"/repos/{repo}/issues/comments/{earlier}", {"body": body})
        return "updated"
    api.call("POST", f"/repos/{repo}/issues/{number}/comments", {"body": body})
    return "posted"


def _earlier_comment(api: Api, repo: str, number: str) -> int | None:
    for page in range(1, MAX_PAGES + 1):
        comments = api.call("GET", f"/repos/{repo}/issues/{number}/comments?per_page=100&page={page}")
        if not isinstance(comments, list):
            raise ValueError("the comments are not a list")
        for comment in comments:
            user = comment.get("user") or {}
            if user.get("type") == "Bot" and str(comment.get("body", "")).startswith(MARKER):
                return int(comment["id"])
        if len(comments) < 100:
            return None
    return None


def _cut(body: str) -> str:
    if len(body) <= MAX_BODY:
        return body
    return body[:MAX_BODY] + "\n\n*(cut here: the whole diff is in the job summary)*\n"


def _annotate(level: str, message: str) -> None:
    print(f"::{level} title=tokensmith diff::{message}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
