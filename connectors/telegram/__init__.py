"""The Telegram channel: clients who write to a bot in a private chat."""
