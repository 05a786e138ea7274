"""``python -m sandbox.emulator --host 127.0.0.1 --port 8081 [--limits]``.

``python -m tests.emulator`` (EMULATOR.md's way) runs the same.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .server import Emulator


async def _serve(host: str, port: int, limits: bool) -> None:
    emu = Emulator(host, port, limits=limits)
    await emu.start()
    print(
        f"Telegram Bot API emulator on {emu.base_url} (limits {'on' if limits else 'off'})",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()


def main(prog: str = "python -m sandbox.emulator") -> None:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--limits", action="store_true", help="turn Telegram's rate limits on")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.limits))


if __name__ == "__main__":
    main()
