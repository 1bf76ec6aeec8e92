"""Times as `explain` shows them: a UTC stamp with the epoch, and a distance from `now`."""

from __future__ import annotations

from datetime import UTC, datetime


def when(epoch: float) -> str:
    """`2026-01-01T00:00:00Z (1767225600)`; a time no calendar can show is `out of range`."""
    try:
        stamp = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        stamp = "out of range"
    return f"{stamp} ({epoch_text(epoch)})"


def delta(seconds: float) -> str:
    """`in 59m 30s`, `2h 5m ago` or `now`: the two largest units."""
    whole = abs(int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n]
    text = " ".join(parts[:2]) or "0s"
    return f"in {text}" if seconds > 0 else f"{text} ago" if seconds < 0 else "now"


def epoch_text(epoch: float) -> str:
    """Whole seconds without decimals, anything else to the millisecond."""
    return str(int(epoch)) if float(epoch).is_integer() else f"{epoch:.3f}"
