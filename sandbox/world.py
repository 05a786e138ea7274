"""The sandbox's Telegram world, made through the emulator's control API as a script would:
the team bot, a forum group with two operators (the bot its administrator with topic
rights) and a few clients to write as."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.emulator.client import EmulatorClient
from sandbox.settings import BOT_USERNAME, TEAM_TOKEN

BOT_RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    username: str | None = None
    role: str = "client"  # lead, operator or client


# Names in the team's language (LANGUAGE): Russian or English.
PEOPLE: dict[str, dict[str, Any]] = {
    "en": {
        "group": "Acme support",
        "bot": "Acme Support",
        "operators": [
            Person("Anna", "Smith", "anna", "lead"),
            Person("Boris", "Brown", "boris", "operator"),
        ],
        "clients": [
            Person("Maria", "Garcia"),
            Person("David", "Miller", "davidm"),
            Person("Sofia", "Rossi"),
            Person("James", "Chen", "jchen"),
            Person("Emma", "Wilson"),
        ],
    },
    "ru": {
        "group": "Поддержка Acme",
        "bot": "Поддержка Acme",
        "operators": [
            Person("Анна", "Смирнова", "anna", "lead"),
            Person("Борис", "Иванов", "boris", "operator"),
        ],
        "clients": [
            Person("Мария", "Кузнецова"),
            Person("Дмитрий", "Попов", "dpopov"),
            Person("Ольга", "Соколова"),
            Person("Игорь", "Лебедев", "ilebedev"),
            Person("Елена", "Морозова"),
        ],
    },
}


@dataclass
class World:
    """What the seed made: ids the sandbox page and scripts find their way with."""

    language: str
    team_chat_id: int
    bot_username: str
    operators: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def operator(self, role: str) -> dict[str, Any]:
        return next(o for o in self.operators if o["role"] == role)


def _full_name(person: Person) -> str:
    return f"{person.first_name} {person.last_name}".strip()


async def _user(emu: EmulatorClient, person: Person, language: str) -> dict[str, Any]:
    body: dict[str, Any] = {"last_name": person.last_name, "language_code": language}
    if person.username:
        body["username"] = person.username
    made = await emu.user(person.first_name, **body)
    return {
        "id": int(made["id"]),
        "name": _full_name(person),
        "first_name": person.first_name,
        "username": person.username,
        "role": person.role,
    }


async def seed_world(emu: EmulatorClient, language: str) -> World:
    """The bot, the team group (a forum; the lead its administrator, the operator a member,
    the bot an administrator with topic rights) and the clients."""
    people = PEOPLE.get(language, PEOPLE["en"])
    await emu.bot(TEAM_TOKEN, username=BOT_USERNAME, first_name=people["bot"])
    operators = [await _user(emu, p, language) for p in people["operators"]]
    clients = [await _user(emu, p, language) for p in people["clients"]]
    members = [
        {"user_id": o["id"], "status": "administrator" if o["role"] == "lead" else "member"}
        for o in operators
    ]
    group = await emu.group(
        title=people["group"],
        forum=True,
        members=members,
        bots=[{"token": TEAM_TOKEN, "status": "administrator", "rights": BOT_RIGHTS}],
    )
    return World(language, int(group["chat_id"]), BOT_USERNAME, operators, clients)
