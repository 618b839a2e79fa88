"""What the three explorers share: labelled number controls, the step animation, the
readout and the picture, and the three-way display (live widget, PNG, one-line text; see
:mod:`cnnlab.widgets.explorers`)."""
from __future__ import annotations

import base64
import itertools
from html import escape

import ipywidgets as widgets

from cnnlab.widgets import draw

__all__ = ["Explorer", "code", "LABEL_STYLE", "WIDGET_VIEW_MIMETYPE"]

WIDGET_VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"
LABEL_STYLE = {"description_width": "initial"}
_ids = itertools.count()


class Explorer:
    """Shared plumbing: labelled number controls, the step animation, the readout and the
    picture, and the three-way display. Subclasses define ``state``, ``_update_state``,
    ``_figure(static)`` (static: the PNG, which also prints the formula the live readout
    shows), ``_readout_lines`` and ``_picture_label``; :meth:`_refresh` redraws after a change."""

    PLAY_INTERVAL_MS = 900

    def __init__(self):
        self._uid = f"cnnlab{next(_ids)}"
        self._busy = False
        self._note = None
        self.controls: dict[str, widgets.BoundedIntText] = {}
        self.readout = widgets.HTML(layout=widgets.Layout(margin="4px 0"))
        self.picture = widgets.HTML()

    # ----- controls ----------------------------------------------------------------------
    def _number(self, name, label, value, lo, hi, tooltip, slider=True):
        """A labelled spin box (the accessible control), optionally mirrored by a slider."""
        box = widgets.BoundedIntText(value=value, min=lo, max=max(hi, value), step=1, description=label,
                                     tooltip=tooltip, style=LABEL_STYLE,
                                     layout=widgets.Layout(width="210px"))
        box.observe(self._on_control, names="value")
        self.controls[name] = box
        if not slider:
            return box
        mirror = widgets.IntSlider(value=value, min=lo, max=box.max, readout=False, tooltip=tooltip,
                                   continuous_update=False, layout=widgets.Layout(width="160px"))
        widgets.link((box, "value"), (mirror, "value"))
        widgets.link((box, "max"), (mirror, "max"))
        return widgets.HBox([box, mirror])

    def _stepper(self, label, tooltip):
        """Play control plus the labelled ``position`` spin box it drives."""
        row = self._number("step", label, 0, 0, 0, tooltip)
        self.play = widgets.Play(value=0, min=0, max=0, interval=self.PLAY_INTERVAL_MS,
                                 description="animate", tooltip=f"play / pause: {tooltip}")
        widgets.link((self.controls["step"], "value"), (self.play, "value"))
        widgets.link((self.controls["step"], "max"), (self.play, "max"))
        return widgets.HBox([self.play, row])

    def _set_step_max(self, last: int):
        step = self.controls["step"]
        step.max = max(last, 0)              # BoundedIntText clamps the value itself
        step.disabled = self.play.disabled = last < 1

    def _on_control(self, change):
        if not self._busy:
            self._refresh()

    def set(self, **values):
        """Set several controls at once (one redraw), e.g. ``explorer.set(stride=2, padding=1)``."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise KeyError(f"unknown control(s) {unknown}; available: {sorted(self.controls)}")
        self._busy = True
        try:
            for name, value in values.items():
                box = self.controls[name]
                if not box.min <= value <= box.max:
                    raise ValueError(f"{name}={value} is outside {box.min}..{box.max}")
                box.value = value
        finally:
            self._busy = False
        self._refresh()
        return self

    def _refresh(self):
        self._busy = True
        try:
            self._update_state()
        finally:
            self._busy = False
        lines = "".join(f"<div>{line}</div>" for line in self._readout_lines())
        self.readout.value = (f'<div class="cnnlab-readout" role="status" aria-live="polite" '
                              f'style="font-size:1.05em;line-height:1.5">{lines}</div>')
        self.picture.value = draw.to_svg(self._figure(static=False), self._picture_label())

    # ----- display -----------------------------------------------------------------------
    @property
    def output_shape(self):
        return self.state.output_shape

    @property
    def text(self) -> str:
        """The stable one-line text form (also ``repr`` and ``text/plain``)."""
        return self.state.text

    def __repr__(self) -> str:
        return self.text

    def to_png(self) -> bytes:
        """Static PNG of the current setting."""
        return draw.to_png(self._figure(static=True))

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = {"text/plain": self.text,
                "image/png": base64.b64encode(self.to_png()).decode("ascii")}
        view = self.widget._repr_mimebundle_() or {}
        if WIDGET_VIEW_MIMETYPE in view:
            data[WIDGET_VIEW_MIMETYPE] = view[WIDGET_VIEW_MIMETYPE]
        if include:
            data = {k: v for k, v in data.items() if k in include}
        if exclude:
            data = {k: v for k, v in data.items() if k not in exclude}
        return data


def code(text: str) -> str:
    return f"<code>{escape(text)}</code>"
