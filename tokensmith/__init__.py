"""tokensmith: a token exchange configured as code."""

__version__ = "0.1.0"
