"""Quick-reply templates: named texts (and attachments) with {client} and {operator}."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.content import Attachment
from core.context import CoreContext
from core.models import Operator, Template

NAME = re.compile(r"^[\w.-]{1,64}$")
VARIABLE = re.compile(r"{(client|operator)}")


class TemplateError(ValueError):
    """A template command that cannot be done; `args[0]` is a short reason key."""


def render(text: str, *, client: str, operator: str) -> str:
    # Only the two known variables: any other brace in the text stays as written.
    values = {"client": client, "operator": operator}
    return VARIABLE.sub(lambda m: values[m.group(1)], text)


def normalize_name(name: str) -> str:
    return name.strip().lower()


class TemplateService:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    async def all(self) -> list[Template]:
        return await Template.all().order_by("name")

    async def get(self, name: str) -> Template | None:
        return await Template.get_or_none(name=normalize_name(name))

    async def add(
        self,
        name: str,
        text: str,
        author: Operator | None,
        attachments: Sequence[Attachment] = (),
    ) -> tuple[Template, bool]:
        """Create or replace; True when it is new."""
        stored = [a.to_json() for a in attachments]
        name = normalize_name(name)
        if not NAME.match(name):
            raise TemplateError("template.bad_name")
        if not text.strip() and not attachments:
            raise TemplateError("template.empty")
        existing = await Template.get_or_none(name=name)
        if existing is not None:
            existing.text, existing.attachments = text, stored
            await existing.save(update_fields=["text", "attachments"])
            return existing, False
        template = await Template.create(
            name=name,
            text=text,
            attachments=stored,
            created_by=author,
            created_at=self.ctx.clock.now(),
        )
        return template, True

    async def delete(self, name: str) -> bool:
        return bool(await Template.filter(name=normalize_name(name)).delete())

    async def search(self, query: str, limit: int = 20) -> list[Template]:
        """An exact name wins alone; otherwise names starting with, then containing, the query."""
        query = normalize_name(query)
        templates = await self.all()
        if not query:
            return templates[:limit]
        exact = [t for t in templates if t.name == query]
        if exact:
            return exact
        starts = [t for t in templates if t.name.startswith(query)]
        contains = [t for t in templates if query in t.name and t not in starts]
        in_text = [
            t
            for t in templates
            if query in t.text.lower() and t not in starts and t not in contains
        ]
        return (starts + contains + in_text)[:limit]
