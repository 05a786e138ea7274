"""What every inline button of the team carries, as aiogram CallbackData: packed when the
keyboard is drawn, unpacked by each handler's `XData.filter()`.

Telegram only delivers data that one of the message's buttons carries, but an old keyboard
of an earlier version may carry anything. Data that does not unpack into its class (a
missing field, a number that is no row id, a negative page, an old format) matches no
handler: the team's catch-all for buttons answers it (Teamwork.gated) and nothing changes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

# The database's id columns are 32-bit: a larger number is no row.
MAX_ID = 2**31 - 1
# A list page far beyond any list (its offset must still fit the database's integers).
MAX_PAGE = 100_000

RowId = Annotated[int, Field(gt=0, le=MAX_ID)]
SnoozeKey = Literal["1h", "3h", "tomorrow", "monday", "forever", "custom"]
SortCode = Literal["w", "a", "g"]  # waiting, activity, age


class DialogData(CallbackData, prefix="dlg"):
    """Close and Snooze under a client's post and on the card."""

    action: Literal["close", "snooze"]
    dialog_id: RowId


class SnoozeData(CallbackData, prefix="snz"):
    """A preset of the snooze keyboard."""

    dialog_id: RowId
    choice: SnoozeKey


class AssignData(CallbackData, prefix="asg"):
    """A name on the assign keyboard; operator 0 is nobody."""

    dialog_id: RowId
    operator_id: Annotated[int, Field(ge=0, le=MAX_ID)]


class AssignMenuData(CallbackData, prefix="asgm"):
    """The card's Assign: the keyboard of names."""

    dialog_id: RowId


class TemplateData(CallbackData, prefix="tpl"):
    """One template of /t's choices."""

    dialog_id: RowId
    template_id: RowId


class CardData(CallbackData, prefix="card"):
    """The card's Reopen, History and Dialogs."""

    action: Literal["reopen", "history", "dialogs"]
    dialog_id: RowId


class OriginalData(CallbackData, prefix="orig"):
    """📧 under a client's post whose channel keeps the original (a whole mail): sent to the
    presser's private chat."""

    message_id: RowId


class ListPageData(CallbackData, prefix="lst"):
    """◀ and ▶ of /list and /my: the page and the list's filters (empty: any)."""

    page: Annotated[int, Field(ge=0, le=MAX_PAGE)]
    statuses: Annotated[str, Field(pattern=r"^[osc]{1,3}$")]
    # 0: nobody (core.queries.UNASSIGNED)
    assignee_id: Annotated[int, Field(ge=0, le=MAX_ID)] | None
    tag_id: RowId | None
    channel_id: RowId | None
    sort: SortCode


class HistoryData(CallbackData, prefix="hist"):
    """A page of a client's history in the presser's private chat (0: the newest), counted
    back from the snapshot the history was first shown with (its newest message and note)."""

    client_id: RowId
    page: Annotated[int, Field(ge=0, le=MAX_PAGE)]
    upto: Annotated[int, Field(ge=0, le=MAX_ID)]
    note_upto: Annotated[int, Field(ge=0, le=MAX_ID)]


class TranscriptData(CallbackData, prefix="htr"):
    """The history as an HTML file, up to the snapshot the page was shown with."""

    client_id: RowId
    upto: Annotated[int, Field(ge=0, le=MAX_ID)]
    note_upto: Annotated[int, Field(ge=0, le=MAX_ID)]


class HistoryFileData(CallbackData, prefix="hfile"):
    """An attachment of a message in a history: sent again to the presser."""

    message_id: RowId
    index: Annotated[int, Field(ge=0, le=99)]


class TaskData(CallbackData, prefix="task"):
    """Done and Reopen under a task; `view` is what the message shows, drawn again after the
    press: the client's tasks (c), the presser's own (m), or the one task (o)."""

    action: Literal["done", "reopen"]
    task_id: RowId
    view: Literal["c", "m", "o"]


class StatsCsvData(CallbackData, prefix="stcsv"):
    """The CSV button under /stats: the period's first and last day (YYYYMMDD)."""

    first: Annotated[int, Field(ge=19700101, le=99991231)]
    last: Annotated[int, Field(ge=19700101, le=99991231)]


class MergeData(CallbackData, prefix="merge"):
    """*Merge with …* offered by /contact add (or /merge): client `gone` into the client of
    the dialog whose topic it is pressed in (`dialog_id`)."""

    dialog_id: RowId
    gone: RowId


class ParticipantsData(CallbackData, prefix="ppl"):
    """👥 Participants on a card: the dialog's other people, one button each, in the topic."""

    dialog_id: RowId


class ClientCardData(CallbackData, prefix="ccard"):
    """A participant's button: that client's card (name, contacts, dialogs) in the presser's
    private chat."""

    client_id: RowId


class DutyData(CallbackData, prefix="duty"):
    """/duty's button: go on duty (`on`) or step out; the presser's own state."""

    on: bool
