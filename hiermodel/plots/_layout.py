"""The label layout of the figures, one engine: labels placed when the axes is drawn (so
that they follow resizing, ``constrained`` layout and the final dpi), never overlapping.

* :class:`DrawTimeArtist` -- the invisible artist that lays out other artists at draw time,
  and shows each label at its place (or hides it) touching only what changed;
* :class:`SpreadLabels` -- one label per point beside an axes, spread apart with leader
  lines (the shrinkage plot's group labels);
* :class:`BubbleLabels` -- one label per bubble, at the first free spot around it (the
  bubble plot);
* :class:`FitRows` -- row labels that shrink, then thin out, to fit the row pitch (forest
  plots);
* :func:`legend_below` and the text measures it needs.

Private to :mod:`hiermodel.plots` (its names are public so that the figure modules can
import them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox, offset_copy

LABEL_SIZE = 9.0          # group labels and row labels, points
MIN_LABEL_SIZE = 4.0      # row labels never shrink below this; they thin out instead
LINE_SPACING = 1.3        # a label's height as a multiple of its font size (with padding)


# ----------------------------------------------------------------------- text geometry
def text_extents_pts(strings: Sequence[str], **props: Any) -> tuple[np.ndarray, np.ndarray]:
    """Widths and heights, in points, of ``strings`` rendered as text with ``props``."""
    renderer = RendererAgg(10, 10, 72)           # at 72 dpi a pixel is a point
    text = Figure(dpi=72).text(0, 0, "", **props)
    sizes = []
    for s in strings:
        text.set_text(s)
        bb = text.get_window_extent(renderer)
        sizes.append((bb.width, bb.height))
    w, h = np.array(sizes, float).reshape(-1, 2).T
    return w, h


def text_size_pts(strings: Sequence[str], **props: Any) -> tuple[float, float]:
    """The largest width and height, in points, of ``strings`` rendered with ``props``."""
    w, h = text_extents_pts(strings, **props)
    return float(w.max(initial=0.0)), float(h.max(initial=0.0))


def xaxis_depth_pts(ax: Axes, ticklabels: Sequence[str], xlabel: str | None) -> float:
    """How far below the axes the x tick labels (and the x label) reach, in points."""
    tick = ax.xaxis.get_major_ticks()[0] if ax.xaxis.get_major_ticks() else None
    pad = (tick.get_tick_padding() + tick.get_pad()) if tick is not None else 7.0
    size = ax.xaxis.get_ticklabels()[0].get_fontsize() if ax.xaxis.get_ticklabels() else 10
    depth = pad + text_size_pts(ticklabels or ["0"], fontsize=size)[1]
    if xlabel:
        label = ax.xaxis.label
        depth += ax.xaxis.labelpad + text_size_pts([xlabel], fontsize=label.get_fontsize())[1]
    return depth


def legend_below(ax: Axes, handles: list, labels: list[str], *, depth_pts: float,
                  ncols: int = 2, fontsize: float = 8, **kwargs: Any):
    """A legend centred under the axes, below its x tick labels and x label."""
    trans = offset_copy(ax.transAxes, fig=ax.figure, y=-(depth_pts + 4.0), units="points")
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                     bbox_transform=trans, ncols=ncols, fontsize=fontsize, frameon=False,
                     borderaxespad=0.0, **kwargs)


def _isotonic(values: np.ndarray) -> np.ndarray:
    """Least-squares non-decreasing fit to ``values`` (pool adjacent violators)."""
    blocks: list[list[float]] = []               # [mean, weight]
    for v in values:
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2 = blocks.pop()
            m1, w1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2])
    return np.concatenate([np.full(int(w), m) for m, w in blocks])


def _spread(desired: np.ndarray, heights: np.ndarray, gap: float, lo: float,
            hi: float) -> np.ndarray:
    """Centres closest (least squares) to ``desired`` such that boxes of ``heights`` plus
    ``gap`` do not overlap and stay within ``[lo, hi]`` (assumed to have room)."""
    order = np.argsort(desired, kind="stable")
    d, h = desired[order], heights[order]
    step = np.r_[0.0, (h[:-1] + h[1:]) / 2.0 + gap]
    offset = np.cumsum(step)                     # minimal distance of each from the first
    q = _isotonic(d - offset)
    q = np.clip(q, lo + h[0] / 2.0, max(lo + h[0] / 2.0, hi - h[-1] / 2.0 - offset[-1]))
    out = np.empty_like(desired)
    out[order] = q + offset
    return out


class DrawTimeArtist(Artist):
    """An invisible helper that lays out other artists when the axes is drawn: drawn first
    (lowest zorder), outside the layout, with no extent of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.set_zorder(-100)
        self.set_in_layout(False)

    def get_window_extent(self, renderer: Any = None) -> Bbox:
        return Bbox.null()

    @staticmethod
    def show_at(texts: Sequence[Text], where: dict[int, tuple[float, float]]) -> None:
        """Show ``texts[i]`` at the data position ``where[i]`` and hide the others, setting
        only what changed (a draw that changes nothing leaves the figure unchanged)."""
        for i, text in enumerate(texts):
            show = i in where
            if show and tuple(text.get_position()) != where[i]:
                text.set_position(where[i])
            if text.get_visible() != show:
                text.set_visible(show)


class SpreadLabels(DrawTimeArtist):
    """Draw-time placement of one label per point beside an axes, never overlapping.

    Before the labels are drawn (lowest zorder in the axes) it spreads them vertically as
    little as possible (``_spread``; label heights ``heights_pts``, in points) within the
    axes' height, draws leader lines from each label to its point, and hides the
    lowest-priority labels when the axes is too short for all of them (``on_count(shown,
    total)`` reports how many show).  Only what changed is updated.
    """

    def __init__(self, texts: list, heights_pts: np.ndarray, y: np.ndarray, x_point: float,
                 leaders: LineCollection, priority: np.ndarray,
                 on_count: Callable[[int, int], None] | None = None, gap_pts: float = 1.0):
        super().__init__()
        self._texts, self._y, self._x_point = texts, np.asarray(y, float), float(x_point)
        self._heights = np.asarray(heights_pts, float)
        self._leaders, self._priority = leaders, np.asarray(priority, int)
        self._on_count, self._gap_pts = on_count, gap_pts
        self.shown = len(texts)

    def draw(self, renderer: Any) -> None:
        ax = self.axes
        if ax is None or not self.get_visible() or not self._texts:
            return
        px = renderer.points_to_pixels(1.0)
        gap, heights = self._gap_pts * px, self._heights * px
        lo, hi = ax.bbox.y0, ax.bbox.y1
        chosen, used = [], 0.0
        for i in self._priority:                 # most important first
            if used + heights[i] + gap > hi - lo:
                break
            chosen.append(i)
            used += heights[i] + gap
        chosen = np.array(sorted(chosen), int)
        trans = ax.transData
        xy = np.c_[np.full(self._y.size, self._x_point), self._y]
        desired = trans.transform(xy)[:, 1]
        segments, where = [], {}
        if chosen.size:
            pos = _spread(desired[chosen], heights[chosen], gap, lo, hi)
            ydata = trans.inverted().transform(np.c_[np.full(pos.size, self._x_point), pos])[:, 1]
            x_edge = ax.get_xlim()[0]
            for i, yl in zip(chosen, ydata, strict=True):
                where[int(i)] = (self._texts[i].get_position()[0], float(yl))
                segments.append([(x_edge, yl), (self._x_point, self._y[i])])
        self.show_at(self._texts, where)
        old = self._leaders.get_segments()
        if len(old) != len(segments) or not all(np.array_equal(a, b) for a, b in
                                                zip(old, segments, strict=True)):
            self._leaders.set_segments(segments)
        self.shown = int(chosen.size)
        if self._on_count is not None:
            self._on_count(self.shown, len(self._texts))


class FitRows(DrawTimeArtist):
    """Draw-time fitting of row labels (y tick labels and per-row texts) to the row pitch.

    The font shrinks (down to ``MIN_LABEL_SIZE``) when rows are denser than the labels,
    and below that rows lose their labels, those in ``keep`` last.  A row whose label is
    None has texts but no tick.
    """

    def __init__(self, rows: np.ndarray, labels: list[str | None],
                 texts: Sequence[Sequence] = (),
                 keep: Sequence[int] = (), size: float = LABEL_SIZE,
                 text_size: float | None = None):
        super().__init__()
        self._rows, self._labels = np.asarray(rows, float), list(labels)
        self._texts = [list(t) for t in texts]       # per row: the texts on that row
        self._keep, self._size = set(keep), float(size)
        self._text_size = float(size if text_size is None else text_size)
        self._state: tuple | None = None

    def draw(self, renderer: Any) -> None:
        ax = self.axes
        if ax is None or not self.get_visible() or self._rows.size == 0:
            return
        pts = renderer.points_to_pixels(1.0)
        ydisp = ax.transData.transform(np.c_[np.zeros(self._rows.size), self._rows])[:, 1] / pts
        pitch = np.min(np.abs(np.diff(np.sort(ydisp)))) if ydisp.size > 1 else np.inf
        size = float(np.clip(pitch / LINE_SPACING, MIN_LABEL_SIZE, self._size))
        need = size * LINE_SPACING
        shown: list[int] = []
        order = sorted(range(self._rows.size), key=lambda i: (i not in self._keep, i))
        for i in order:
            if all(abs(ydisp[i] - ydisp[j]) >= need for j in shown):
                shown.append(i)
        shown.sort()
        state = (size, tuple(shown))
        if state == self._state:
            return
        self._state = state
        ticks = [i for i in shown if self._labels[i] is not None]
        ax.set_yticks(self._rows[ticks], [self._labels[i] for i in ticks])
        ax.tick_params(axis="y", labelsize=size)
        text_size = min(self._text_size, size)
        for i, row in enumerate(self._texts):
            for t in row:
                t.set_fontsize(text_size)
                t.set_visible(i in shown)


class BubbleLabels(DrawTimeArtist):
    """Draw-time placement of one label per bubble, never overlapping another label.

    Bubbles are visited largest first; each label goes to the first free spot around its
    bubble -- right, left, above, below, then the diagonals, just outside the bubble and
    then one label height further out -- that lies inside the axes, overlaps no label placed
    before it and, where one exists, no other bubble.  A label with no free spot is hidden.
    """

    _DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))

    def __init__(self, texts: list, xy: np.ndarray, radii_pts: np.ndarray,
                 priority: np.ndarray, gap_pts: float = 1.5):
        super().__init__()
        self._texts, self._xy = texts, np.asarray(xy, float)
        self._radii, self._priority = np.asarray(radii_pts, float), np.asarray(priority, int)
        self._gap_pts = gap_pts
        self.shown = len(texts)

    @staticmethod
    def _hits_discs(box: tuple, centres: np.ndarray, radii: np.ndarray) -> bool:
        x0, y0, x1, y1 = box
        dx = np.clip(centres[:, 0], x0, x1) - centres[:, 0]
        dy = np.clip(centres[:, 1], y0, y1) - centres[:, 1]
        return bool(np.any(dx * dx + dy * dy < radii * radii))

    def _spots(self, cx: float, cy: float, r: float, w: float, h: float,
               gap: float) -> list[tuple]:
        spots = []
        for extra in (0.0, h):
            for ux, uy in self._DIRECTIONS:
                far = (r / math.sqrt(2.0) if ux and uy else r) + gap + extra
                bx, by = cx + ux * (far + w / 2.0), cy + uy * (far + h / 2.0)
                spots.append((bx - w / 2.0, by - h / 2.0, bx + w / 2.0, by + h / 2.0))
        return spots

    def draw(self, renderer: Any) -> None:
        ax = self.axes
        if ax is None or not self.get_visible() or not self._texts:
            return
        px = renderer.points_to_pixels(1.0)
        centres = ax.transData.transform(self._xy)
        radii, gap = self._radii * px, self._gap_pts * px
        frame = ax.bbox
        placed: list[tuple] = []
        where: dict[int, tuple[float, float]] = {}
        for i in self._priority:
            bb = Text.get_window_extent(self._texts[i], renderer)
            spots = [b for b in self._spots(*centres[i], radii[i], bb.width, bb.height, gap)
                     if b[0] >= frame.x0 and b[2] <= frame.x1 and b[1] >= frame.y0
                     and b[3] <= frame.y1
                     and not any(b[0] < p[2] and p[0] < b[2] and b[1] < p[3] and p[1] < b[3]
                                 for p in placed)]
            if not spots:
                continue
            others = np.arange(len(self._texts)) != i
            free = [b for b in spots if not self._hits_discs(b, centres[others], radii[others])]
            box = (free or spots)[0]
            placed.append(box)
            where[i] = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
        inverse = ax.transData.inverted()
        self.show_at(self._texts, {i: tuple(float(v) for v in inverse.transform(xy))
                                   for i, xy in where.items()})
        self.shown = len(where)
