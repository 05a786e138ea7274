"""The `eadesk` program (also `python -m bot`): run the helpdesk, or check its setup."""

import argparse
import asyncio
import contextlib
import logging
import sys
import textwrap
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic_core import PydanticUndefined

from bot import loop
from bot.config import (
    SIZE_SETTINGS,
    ConfigError,
    Settings,
    load_settings,
    unknown_variable_line,
    unknown_variables,
    wants_sandbox,
)
from connectors import registry
from core.durations import format_duration
from core.sizes import format_size
from sandbox.banner import DEFAULT_SEED, SEEDS, banner

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_NOT_CONFIGURED = 2

NOT_CONFIGURED = (
    "eadesk is not configured yet. Set these variables "
    "(in the environment or in .env, see .env.example):"
)

SANDBOX_REASON = (
    "No Telegram is configured (neither BOT_TOKEN nor TEAM_CHAT_ID is set), so `run` starts\n"
    "the sandbox; set both (see .env.example) to run eadesk with your Telegram."
)

DESCRIPTION = """\
eadesk is a self-hosted helpdesk whose operators work inside Telegram: every client
conversation becomes a forum topic in the team's supergroup, and operators answer right
there. Clients write today through Telegram (a private chat with the team bot or with
client bots), by e-mail (EMAIL_…) and through a chat on a website (WEBCHAT_…); WhatsApp,
Instagram, VK and telephony are to come."""

# Libraries whose INFO is for developers (each scheduler tick in two lines, each update
# handled, each /healthz request, the ORM's start and stop): the default log keeps what an
# admin needs; LOG_LEVEL=DEBUG shows it all.
CHATTY_LOGGERS = (
    "apscheduler",
    "matplotlib",  # its font cache, built on the first chart
    "tortoise",
    "aiogram.event",
    "aiogram.dispatcher",
    "aiohttp.access",
)


def _default(value: Any) -> str:
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, timedelta):
        return format_duration(value)
    if value in ("", []):
        return "optional"
    return str(value)


def environment_help() -> str:
    """Every variable Settings reads, with its default, straight from the code."""
    lines = ["environment (read from the environment, then from .env in the current directory):"]
    fields = list(Settings.model_fields.items())
    for spec in registry.specs():
        fields += [(spec.prefix + name, f) for name, f in spec.settings.model_fields.items()]
    for name, field in fields:
        value = field.get_default(call_default_factory=True)
        default = format_size(value) if name in SIZE_SETTINGS else _default(value)
        bare = default in ("required", "optional")
        lines.append(f"  {name} ({default})" if bare else f"  {name} = {default}")
        lines += textwrap.wrap(
            field.description or "", width=88, initial_indent=" " * 6, subsequent_indent=" " * 6
        )
    lines += [
        "",
        "exit status: 0 all right; 1 `check` found something to fix, or `run` cannot start",
        "(Telegram refuses a token: said in one line); 2 not configured (each missing or",
        "malformed variable is named on its own line). While Telegram cannot be reached,",
        "`run` keeps trying and says so in one line each time.",
    ]
    return "\n".join(lines)


def _version() -> str:
    try:
        return version("eadesk")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eadesk",
        description=DESCRIPTION,
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"eadesk {_version()}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    commands.add_parser(
        "run",
        help="start the bot, the connectors and the health endpoint "
        "(the database is migrated on start)",
        description="Start eadesk: the team bot, the connectors and the health endpoint.",
    )
    sandbox = commands.add_parser(
        "sandbox",
        help="try eadesk without Telegram: eadesk with a built-in Telegram emulator and a web "
        "page at http://HTTP_HOST:HTTP_PORT/ (what `run` starts when neither BOT_TOKEN nor "
        "TEAM_CHAT_ID is set); its own database under data/sandbox/, started over each time",
        description="Start the sandbox: eadesk itself, wired to a built-in Telegram emulator, "
        "with a web page showing the team group, an operator's chat and a client's phone. "
        "Nothing reaches Telegram; the data lives in data/sandbox/ and starts over each time.",
    )
    sandbox.add_argument(
        "--seed",
        choices=SEEDS,
        default=DEFAULT_SEED,
        help="demo: a short morning of clients and operators plays in (the default); "
        "empty: only the team group, its two operators and the clients to write as",
    )
    commands.add_parser(
        "check",
        help="tell in plain words what is missing in the setup: the variables, the bot "
        "token, the group, Topics and the bot's administrator rights",
        description="Check the configuration and ask Telegram whether the bots and the "
        "team group are ready. Exits 0 only when everything is.",
    )
    return parser


def _settings_or_explain() -> Settings | None:
    try:
        return load_settings()
    except ConfigError as error:
        print(NOT_CONFIGURED, file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def run_command() -> int:
    if wants_sandbox():
        return sandbox_command(DEFAULT_SEED, SANDBOX_REASON)
    settings = _settings_or_explain()
    if settings is None:
        return EXIT_NOT_CONFIGURED
    configure_logging(settings.LOG_LEVEL)
    for name, closest in unknown_variables():
        log.warning("%s", unknown_variable_line(name, closest))
    from bot.app import run_app  # the whole application loads only when it is run

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is the ordinary way to stop it
        return EXIT_PROBLEMS if loop.run(run_app(settings)) else EXIT_OK
    return EXIT_OK


def sandbox_command(seed: str, reason: str | None = None) -> int:
    """The sandbox (sandbox/): eadesk with a built-in Telegram emulator, on HTTP_PORT."""
    try:
        from sandbox.settings import sandbox_settings  # checks .env as `run` would

        settings = sandbox_settings()
    except ConfigError as error:
        print(NOT_CONFIGURED, file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_NOT_CONFIGURED
    print(banner(settings.HTTP_HOST, settings.HTTP_PORT, seed, reason), flush=True)
    configure_logging(settings.LOG_LEVEL)
    from sandbox.runner import run_sandbox

    with contextlib.suppress(KeyboardInterrupt):
        return EXIT_PROBLEMS if loop.run(run_sandbox(seed)) else EXIT_OK
    return EXIT_OK


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        quiet = max(logging.WARNING, logging.getLevelName(level))
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(quiet)


def check_command() -> int:
    settings = _settings_or_explain()
    if settings is None:
        return EXIT_NOT_CONFIGURED
    from bot.checks import Finding, check_telegram

    # A misspelt channel variable would otherwise be ignored in silence.
    findings = [Finding(False, unknown_variable_line(*item)) for item in unknown_variables()]
    print(f"Asking Telegram at {settings.TELEGRAM_API_URL}…")
    findings += asyncio.run(check_telegram(settings))
    for finding in findings:
        mark = "!" if finding.warning else ("✓" if finding.ok else "✗")
        print(f"  {mark} {finding.text}")
    problems = sum(not finding.ok for finding in findings)
    if problems:
        print(f"{problems} thing(s) to fix; then run the check again.")
        return EXIT_PROBLEMS
    print("All set: start eadesk with `make run` (or `eadesk run`).")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "run":
        return run_command()
    if arguments.command == "check":
        return check_command()
    if arguments.command == "sandbox":
        return sandbox_command(arguments.seed)
    parser.print_help(sys.stderr)
    return EXIT_NOT_CONFIGURED
