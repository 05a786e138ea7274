"""Short durations as people type them in settings and commands: `30s`, `15m`, `48h`, `3d`."""

import re
from datetime import timedelta

HINT = "use a number with s, m, h or d, like 48h"

_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}

# Every spelling maps to one canonical unit; English and Russian short forms.
_UNITS = {
    "s": "s",
    "sec": "s",
    "с": "s",
    "сек": "s",
    "m": "m",
    "min": "m",
    "м": "m",
    "мин": "m",
    "h": "h",
    "hr": "h",
    "ч": "h",
    "час": "h",
    "d": "d",
    "д": "d",
    "дн": "d",
    "w": "w",
    "н": "w",
    "нед": "w",
}

_PART = re.compile(r"\s*(\d+)\s*([^\d\s]+)")


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `15m`, `48h`, `3d`, `2w`, `1h30m`, `1h 30m`, `2ч`, `30 мин`.

    Raises ValueError on anything else, zero and negative included. Its message completes
    "'<text>' is …", e.g. "not a duration: use a number with s, m, h or d, like 48h".
    """
    source = text.strip().lower()
    if not source:
        raise ValueError(f"empty: {HINT}")
    if source.startswith("-"):
        raise ValueError("negative: use a positive number with s, m, h or d, like 48h")
    total = 0
    seen: set[str] = set()
    position = 0
    for match in _PART.finditer(source):
        if match.start() != position:
            break
        unit = _UNITS.get(match.group(2))
        if unit is None or unit in seen:
            break
        seen.add(unit)
        total += int(match.group(1)) * _SECONDS[unit]
        position = match.end()
    if not seen or position != len(source):
        raise ValueError(f"not a duration: {HINT}")
    if total == 0:
        raise ValueError("zero: use a positive number with s, m, h or d, like 48h")
    try:
        return timedelta(seconds=total)
    except OverflowError:
        raise ValueError("too long: a duration must be under a million days") from None


def format_duration(value: timedelta) -> str:
    """The compact form parse_duration reads back: `48h`, `1h30m`, `90s`, `2w`.

    Under a week it counts in hours, as the spec speaks of reopen windows (48 h, 120 h);
    whole days from a week on read better as `14d` or `2w`. Fractions of a second are dropped.
    """
    seconds = int(value.total_seconds())
    if seconds < 0:
        return "-" + format_duration(-value)
    if seconds == 0:
        return "0s"
    if seconds >= _SECONDS["w"] and seconds % _SECONDS["d"] == 0:
        if seconds % _SECONDS["w"] == 0:
            return f"{seconds // _SECONDS['w']}w"
        return f"{seconds // _SECONDS['d']}d"
    parts = []
    for unit in ("h", "m", "s"):
        amount, seconds = divmod(seconds, _SECONDS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
