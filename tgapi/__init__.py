"""Telegram Bot API mechanics shared by the front end (bot/) and the Telegram connectors."""
