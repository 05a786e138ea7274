"""The sandbox's web page: the emulated Telegram shown like Telegram (see routes.py)."""

from .routes import add_web_routes

__all__ = ["add_web_routes"]
