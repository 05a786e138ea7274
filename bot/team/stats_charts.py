"""/stats as pictures: one chart per picture, drawn off-screen (Agg), with type large enough
to read on a phone and labels that never overlap (constrained layout, rotated and thinned
ticks, cut names). Pure: a report and words in, PNG bytes out (run it in a thread)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.i18n import t
from core.reporting import Report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib is imported when a chart is drawn, not when eadesk starts: it costs start-up
# time, and its first import builds a font cache and says so in the log. Figure and the Agg
# canvas are used directly, so no backend (no display) is ever chosen.

SIZE = (9.0, 6.75)  # inches: 1080 x 810 pixels at DPI
DPI = 120
TITLE, LABEL, TICK = 22, 17, 15
NAME_LENGTH = 18
# At most this many day labels under a chart: more would touch.
MAX_DAY_TICKS = 10
THIS, BEFORE = "#2f6fdf", "#b0b8c4"


@dataclass(frozen=True)
class Chart:
    name: str
    png: bytes


def cut(name: str, length: int = NAME_LENGTH) -> str:
    return name if len(name) <= length else name[: length - 1] + "…"


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _figure() -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=SIZE, dpi=DPI, layout="constrained")


def episodes_per_day(report: Report, lang: str) -> bytes | None:
    from matplotlib.ticker import MaxNLocator

    if not any(n for _, n in report.per_day) and not any(n for _, n in report.per_day_before):
        return None  # nothing to draw (an operator's own numbers have no episode starts)
    figure = _figure()
    axes = figure.add_subplot()
    days = [day for day, _ in report.per_day]
    now = [count for _, count in report.per_day]
    before = [count for _, count in report.per_day_before][: len(days)]
    xs = list(range(len(days)))
    width = 0.4
    axes.bar([x - width / 2 for x in xs], before, width, color=BEFORE,
             label=t("stats.chart.previous", lang))  # fmt: skip
    axes.bar([x + width / 2 for x in xs], now, width, color=THIS,
             label=t("stats.chart.this", lang))  # fmt: skip
    step = max(1, -(-len(days) // MAX_DAY_TICKS))
    axes.set_xticks(xs[::step], [d.strftime("%d.%m") for d in days][::step])
    axes.tick_params(axis="x", labelrotation=45 if len(xs[::step]) > 5 else 0)
    axes.tick_params(labelsize=TICK)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(t("stats.chart.per_day", lang), fontsize=TITLE)
    figure.legend(loc="outside lower center", ncols=2, fontsize=TICK)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def first_response_by_operator(report: Report, names: dict[int, str], lang: str) -> bytes | None:
    medians = [
        (cut(names.get(operator_id, "?")), figures.first_response.median())
        for operator_id, figures in report.by_operator.items()
        if figures.first_response.count
    ]
    if not medians:
        return None
    medians.sort(key=lambda item: item[1] or 0)
    figure = _figure()
    axes = figure.add_subplot()
    labels = [name for name, _ in medians]
    minutes = [(value or 0) / 60 for _, value in medians]
    bars = axes.barh(range(len(labels)), minutes, color=THIS)
    axes.set_yticks(range(len(labels)), labels)
    axes.bar_label(bars, [f"{m:.1f}" for m in minutes], padding=4, fontsize=TICK)
    axes.tick_params(labelsize=TICK)
    axes.set_xlabel(t("stats.chart.minutes", lang), fontsize=LABEL)
    axes.set_xlim(0, max(minutes) * 1.25 or 1)
    axes.set_title(t("stats.chart.first_response", lang), fontsize=TITLE)
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


def load_heatmap(report: Report, lang: str) -> bytes | None:
    if not any(any(row) for row in report.load):
        return None
    figure = _figure()
    axes = figure.add_subplot()
    image = axes.imshow(report.load, aspect="auto", cmap="Blues")
    axes.set_yticks(range(7), t("stats.chart.weekdays", lang).split(","))
    axes.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)])
    axes.tick_params(labelsize=TICK)
    axes.set_xlabel(t("stats.chart.hour", lang), fontsize=LABEL)
    axes.set_title(t("stats.chart.load", lang), fontsize=TITLE)
    bar = figure.colorbar(image, ax=axes)
    bar.ax.tick_params(labelsize=TICK)
    return _png(figure)


def charts(report: Report, names: dict[int, str], lang: str) -> list[Chart]:
    """The pictures of a report, in order (a chart with nothing to show is left out)."""
    drawn: list[tuple[str, Callable[[], bytes | None]]] = [
        ("episodes-per-day.png", lambda: episodes_per_day(report, lang)),
        ("first-response.png", lambda: first_response_by_operator(report, names, lang)),
        ("load.png", lambda: load_heatmap(report, lang)),
    ]
    out = []
    for name, draw in drawn:
        png = draw()
        if png is not None:
            out.append(Chart(name, png))
    return out
