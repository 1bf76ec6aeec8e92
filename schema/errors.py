"""The root of the build side's errors: reading, checking, compiling and reviewing a config.

Every exception class of `schema/`, `compiler/`, the review tools and the CLI derives from
`BuildError`, so a caller can catch the family with one clause. The runtime has its own two roots
(`runtime/errors.py`: `BundleError`, `ExchangeError`) because it never imports this layer.
`docs/architecture.md` ("Errors") lists every class and the rule for new ones.

A finding about the config itself is not an exception: it is a `Diagnostic` with a catalogued
code. These errors are for what stops the work before or after the findings: a path that
cannot be read, a bundle directory that cannot be written, a review tool's unusable input.
"""

from __future__ import annotations


class BuildError(Exception):
    """A config, or a review tool's input, cannot be read, checked, compiled or written."""
