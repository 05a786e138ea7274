"""`python -m bench <subcommand>`: eadesk's benchmarks against the Bot API emulator."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

USAGE = """usage: python -m bench <subcommand> [options]

subcommands:
  delivery   client messages into the team group under Telegram's limits
             (python -m bench delivery --help)
  webchat    an active website-chat visitor's round trip with 0 and 1000 idle sockets
             (python -m bench webchat --help)
  stats      /stats month computed over 100,000 episodes' reporting rows
             (python -m bench stats --help)"""


def _delivery(argv: Sequence[str]) -> int:
    from bench.delivery import main

    return main(argv)


def _webchat(argv: Sequence[str]) -> int:
    from bench.webchat import main

    return main(argv)


def _stats(argv: Sequence[str]) -> int:
    from bench.stats import main

    return main(argv)


SUBCOMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "delivery": _delivery,
    "webchat": _webchat,
    "stats": _stats,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    command = SUBCOMMANDS.get(args[0])
    if command is None:
        print(f"unknown subcommand {args[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return command(args[1:])


if __name__ == "__main__":
    sys.exit(main())
