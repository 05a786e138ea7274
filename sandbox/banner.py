"""What the sandbox says on its first lines (kept light: printed before aiogram loads)."""

from __future__ import annotations

SEEDS = ("demo", "empty")
DEFAULT_SEED = "demo"

# Where the sandbox keeps its data (never DATABASE_URL's file); started over on each start.
DATA_DIR = "data/sandbox"


def browser_host(host: str) -> str:
    """The address a browser on this machine opens for a server listening on `host`."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def url_of(host: str, port: int) -> str:
    host = browser_host(host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


def banner(host: str, port: int, seed: str, reason: str | None) -> str:
    """The sandbox's first lines; `reason` says why `run` started it (None: on purpose)."""
    where = url_of(host, port) if port else "a free port (its address follows once it listens)"
    lines = [
        "eadesk sandbox: eadesk with a built-in Telegram emulator, nothing reaches Telegram.",
    ]
    if reason:
        lines.append(reason)
    lines += [
        f"Open {where} in a browser: the team group, an operator's chat and a client's phone.",
        (
            "Seed: demo (a short morning of clients and operators plays in)"
            if seed == "demo"
            else "Seed: empty (the team group and its two operators; no dialogs yet)"
        ),
        f"Its data lives in {DATA_DIR}/ and starts over on each start; Ctrl+C stops it.",
        "To connect your own Telegram, see README.md, section 'Preparing Telegram'.",
    ]
    return "\n".join(lines)
