"""A Telegram Bot API emulator for eadesk's tests and benchmarks (see README.md)."""

from .server import Emulator, add_emulator_routes

__all__ = ["Emulator", "add_emulator_routes", "start_emulator"]


async def start_emulator(host: str = "127.0.0.1", port: int = 0, limits: bool = False) -> Emulator:
    """Start an emulator and return it; stop it with ``await emu.stop()``."""
    emu = Emulator(host, port, limits=limits)
    await emu.start()
    return emu
