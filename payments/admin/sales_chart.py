"""The sales overview's bar chart of net sales, laid out here and drawn by the template as
inline SVG: no script, so it shows wherever the admin does and prints as it looks.

Net sales can be below zero (a day with more refunds than sales), so the bars stand on a zero
line that sits where the figures put it. Each bar carries its own title (its day and amount)
and the chart a title and a summary for screen readers; the tables below hold every figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.translation import gettext as _

from shop.templatetags.shop_tags import won

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 96, 8, 12, 26
MOST_LABELS = 8


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    negative: bool
    label: str


@dataclass(frozen=True)
class Tick:
    at: str  # x of a day's label, y of an amount's
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    zero_y: str
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    label_y: int
    title: str
    description: str


def _px(value: float) -> str:
    # Preformatted: the template must not localise the decimal point of a coordinate.
    return f"{value:.1f}"


class _Scale:
    """Amounts to heights: the top is the highest figure or 0, the bottom the lowest or 0."""

    def __init__(self, values: list[int]) -> None:
        self.top, self.bottom = max([0, *values]), min([0, *values])
        self.span = (self.top - self.bottom) or 1
        self.plot_height = HEIGHT - TOP - BOTTOM

    def y(self, value: int) -> float:
        return TOP + (self.top - value) / self.span * self.plot_height


def _bars(points: list[tuple[str, int]], scale: _Scale) -> list[Bar]:
    slot = (WIDTH - LEFT - RIGHT) / len(points)
    zero = scale.y(0)
    bars = []
    for index, (label, value) in enumerate(points):
        top = scale.y(value)
        height = abs(zero - top)
        if value and height < 1:  # a small amount still shows as a sliver
            height = 1.0
        bars.append(
            Bar(
                x=_px(LEFT + index * slot + slot * 0.1),
                y=_px(zero - height if value >= 0 else zero),
                width=_px(max(slot * 0.8, 1.0)),
                height=_px(height),
                negative=value < 0,
                label=_("%(label)s: 순매출 %(amount)s") % {"label": label, "amount": won(value)},
            )
        )
    return bars


def _x_ticks(points: list[tuple[str, int]], short_labels: list[str]) -> list[Tick]:
    slot = (WIDTH - LEFT - RIGHT) / len(points)
    step = math.ceil(len(points) / MOST_LABELS)
    return [
        Tick(at=_px(LEFT + index * slot + slot / 2), text=short_labels[index])
        for index in range(0, len(points), step)
    ]


def _y_ticks(scale: _Scale) -> list[Tick]:
    values = sorted({scale.top, 0, scale.bottom}, reverse=True)
    return [Tick(at=_px(scale.y(value) + 4), text=won(value)) for value in values]


def _description(points: list[tuple[str, int]], monthly: bool) -> str:
    best_label, best = max(points, key=lambda point: point[1])
    figures = {
        "total": won(sum(value for _label, value in points)),
        "label": best_label,
        "amount": won(best),
    }
    if monthly:
        text = _("순매출 합계 %(total)s. 가장 많은 달은 %(label)s (%(amount)s).") % figures
    else:
        text = _("순매출 합계 %(total)s. 가장 많은 날은 %(label)s (%(amount)s).") % figures
    return text + " " + _("모든 수치는 아래 표에 있습니다.")


def net_chart(
    points: list[tuple[str, int]], *, short_labels: list[str], monthly: bool
) -> Chart | None:
    """The chart of net sales per day (or month), `points` being (label, net) in order and
    `short_labels` what fits under each bar; None when there is nothing to draw."""
    if not points:
        return None
    scale = _Scale([value for _label, value in points])
    title = _("월별 순매출") if monthly else _("일별 순매출")
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        zero_y=_px(scale.y(0)),
        bars=_bars(points, scale),
        x_ticks=_x_ticks(points, short_labels),
        y_ticks=_y_ticks(scale),
        label_y=HEIGHT - 8,
        title=title,
        description=_description(points, monthly),
    )
