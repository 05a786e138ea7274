"""Sizes as people type them in settings: `50MB`, `512KB`, `1.5GB`, `20 МБ`.

One unit is 1024 of the one below it (`1MB` = 1024 KB = 1 048 576 bytes), as Telegram and
most tools count file sizes.
"""

import re

HINT = "use a number with KB, MB or GB, like 50MB"

_BYTES = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

# Every spelling maps to one canonical unit; English and Russian short forms.
_UNITS = {
    "": "b",
    "b": "b",
    "byte": "b",
    "bytes": "b",
    "б": "b",
    "k": "k",
    "kb": "k",
    "kib": "k",
    "кб": "k",
    "m": "m",
    "mb": "m",
    "mib": "m",
    "мб": "m",
    "g": "g",
    "gb": "g",
    "gib": "g",
    "гб": "g",
}

_SIZE = re.compile(r"(\d+(?:[.,]\d+)?)\s*([^\d\s]*)")


def parse_size(text: str) -> int:
    """Bytes in `50MB`, `50 mb`, `512KB`, `1.5GB`, `20МБ`, `1048576` (a bare number: bytes).

    Raises ValueError on anything else, zero included. Its message completes
    "'<text>' is …", e.g. "not a size: use a number with KB, MB or GB, like 50MB".
    """
    source = text.strip().lower()
    if not source:
        raise ValueError(f"empty: {HINT}")
    if source.startswith("-"):
        raise ValueError("negative: use a positive number with KB, MB or GB, like 50MB")
    match = _SIZE.fullmatch(source)
    unit = _UNITS.get(match.group(2)) if match else None
    if match is None or unit is None:
        raise ValueError(f"not a size: {HINT}")
    size = int(float(match.group(1).replace(",", ".")) * _BYTES[unit])
    if size <= 0:
        raise ValueError("zero: use a positive number with KB, MB or GB, like 50MB")
    return size


def size_setting(value: object, example: str) -> int:
    """A setting's size (`50MB`, or bytes as an int), for a validator: its error reads after
    the variable's name ("FILE_SIZE_LIMIT is not positive: like 50MB")."""
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"is not positive: use a number with KB, MB or GB, like {example}")
        return value
    try:
        return parse_size(str(value))
    except ValueError as error:
        raise ValueError(f"is {error}") from None


def format_size(size: int) -> str:
    """The compact form parse_size reads back: `50MB`, `512KB`, `1GB`, `1500B`; in the largest
    unit that divides it evenly."""
    for unit, label in (("g", "GB"), ("m", "MB"), ("k", "KB")):
        if size and size % _BYTES[unit] == 0:
            return f"{size // _BYTES[unit]}{label}"
    return f"{size}B"


def describe_size(size: int) -> str:
    """A size for people to read: `25.3 MB`, `512 KB`, `100 bytes`."""
    for unit, label in (("g", "GB"), ("m", "MB"), ("k", "KB")):
        if size >= _BYTES[unit]:
            amount = f"{size / _BYTES[unit]:.1f}".removesuffix(".0")
            return f"{amount} {label}"
    return f"{size} bytes"
