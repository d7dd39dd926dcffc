"""How the window shows connection states, actors, environments and times: words, colours, icons.

Every label here is wrapped for translation. Colours come in a light-theme and a dark-theme
shade so that state text stays readable when the OS switches the palette. Icons pair each
colour with a shape, so the state never rests on colour alone.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap

from leafdesk.core.model import Actor, ConnectionState, Environment, StateView

_CONTEXT = "Presentation"


def _tr(text: str) -> str:
    return QCoreApplication.translate(_CONTEXT, text)


# The order of the summary strip: what needs a person first, healthy last.
STATE_ORDER: tuple[ConnectionState, ...] = (
    ConnectionState.NEEDS_REAUTHORIZATION,
    ConnectionState.MISSING_PERMISSION,
    ConnectionState.PROVIDER_UNAVAILABLE,
    ConnectionState.UNKNOWN,
    ConnectionState.WAITING_FOR_GROWER,
    ConnectionState.NOT_CONNECTED,
    ConnectionState.CONNECTED,
)

# (shade on a light background, shade on a dark background), both with at least 4.5:1
# contrast against the default window colour of Qt's Fusion palettes.
_STATE_COLOURS: dict[ConnectionState, tuple[str, str]] = {
    ConnectionState.CONNECTED: ("#1b5e20", "#81c784"),
    ConnectionState.WAITING_FOR_GROWER: ("#0d47a1", "#90caf9"),
    ConnectionState.NEEDS_REAUTHORIZATION: ("#b71c1c", "#ef9a9a"),
    ConnectionState.MISSING_PERMISSION: ("#a84300", "#ffb74d"),
    ConnectionState.PROVIDER_UNAVAILABLE: ("#6a1b9a", "#ce93d8"),
    ConnectionState.UNKNOWN: ("#5d4037", "#bcaaa4"),
    ConnectionState.NOT_CONNECTED: ("#455a64", "#b0bec5"),
}

_ENVIRONMENT_COLOURS: dict[str, tuple[str, str]] = {
    Environment.PRODUCTION: ("#b71c1c", "#ef9a9a"),
    Environment.STAGE: ("#0d47a1", "#90caf9"),
}


# Labels are looked up for every row shown or searched, so each is translated once per run.
@lru_cache(maxsize=None)
def state_label(state: ConnectionState) -> str:
    """Return the short, translated name of a state, as the table and summary strip show it."""
    labels = {
        ConnectionState.CONNECTED: _tr("Connected"),
        ConnectionState.WAITING_FOR_GROWER: _tr("Waiting for grower"),
        ConnectionState.NEEDS_REAUTHORIZATION: _tr("Needs re-authorization"),
        ConnectionState.MISSING_PERMISSION: _tr("Missing permission"),
        ConnectionState.PROVIDER_UNAVAILABLE: _tr("Provider unavailable"),
        ConnectionState.UNKNOWN: _tr("Unknown"),
        ConnectionState.NOT_CONNECTED: _tr("Not connected"),
    }
    return labels[state]


def state_text(view: StateView) -> str:
    """Return a state's label, with the raw status Leaf sent for an unknown one."""
    label = state_label(view.state)
    if view.state is ConnectionState.UNKNOWN and view.raw_status:
        label = _tr("{label}: {status}").format(label=label, status=view.raw_status)
    return label


@lru_cache(maxsize=None)
def actor_label(actor: Actor) -> str:
    """Return who must act, in words."""
    labels = {
        Actor.NOBODY: _tr("Nobody"),
        Actor.GROWER: _tr("Grower"),
        Actor.PROVIDER: _tr("Panorama or Leaf"),
        Actor.STAFF: _tr("Staff"),
    }
    return labels[actor]


def is_dark(palette: QPalette | None = None) -> bool:
    """Return True when the palette (the application's by default) has a dark window colour."""
    palette = palette or QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def state_colour(state: ConnectionState, palette: QPalette | None = None) -> QColor:
    """Return the state's colour in the shade readable on the current palette."""
    light, dark = _STATE_COLOURS[state]
    return QColor(dark if is_dark(palette) else light)


def environment_colour(environment: str | None, palette: QPalette | None = None) -> QColor | None:
    """Return the colour of a Panorama environment, or None for one LeafDesk does not know."""
    shades = _ENVIRONMENT_COLOURS.get((environment or "").upper())
    if shades is None:
        return None
    return QColor(shades[1] if is_dark(palette) else shades[0])


def state_icon(state: ConnectionState) -> QIcon:
    """Return the state's icon: a coloured disc with a white shape that differs per state."""
    return _state_icon(state, is_dark())


@lru_cache(maxsize=32)
def _state_icon(state: ConnectionState, dark: bool) -> QIcon:
    icon = QIcon()
    for size in (16, 24, 32):
        icon.addPixmap(_draw_state_pixmap(state, size, dark))
    return icon


def _draw_state_pixmap(state: ConnectionState, size: int, dark: bool) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    light_shade, dark_shade = _STATE_COLOURS[state]
    # The disc uses the light-theme shade on both themes: the white mark needs the darker fill.
    fill = QColor(light_shade)

    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    margin = size * 0.06
    disc = QRectF(margin, margin, size - 2 * margin, size - 2 * margin)
    painter.setPen(QPen(QColor(dark_shade), max(1.0, size / 16)) if dark else Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawEllipse(disc)

    pen = QPen(QColor("white"), max(1.5, size / 9))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    s = size

    def point(x: float, y: float) -> QPointF:
        return QPointF(s * x, s * y)

    if state is ConnectionState.CONNECTED:
        path = QPainterPath(point(0.28, 0.52))
        path.lineTo(point(0.44, 0.68))
        path.lineTo(point(0.72, 0.34))
        painter.drawPath(path)
    elif state is ConnectionState.WAITING_FOR_GROWER:
        painter.drawLine(point(0.5, 0.5), point(0.5, 0.28))
        painter.drawLine(point(0.5, 0.5), point(0.68, 0.6))
    elif state in (ConnectionState.NEEDS_REAUTHORIZATION, ConnectionState.MISSING_PERMISSION):
        painter.drawLine(point(0.5, 0.26), point(0.5, 0.56))
        painter.drawPoint(point(0.5, 0.73))
    elif state is ConnectionState.PROVIDER_UNAVAILABLE:
        path = QPainterPath(point(0.56, 0.22))
        path.lineTo(point(0.38, 0.54))
        path.lineTo(point(0.6, 0.48))
        path.lineTo(point(0.44, 0.78))
        painter.drawPath(path)
    elif state is ConnectionState.UNKNOWN:
        painter.drawArc(QRectF(s * 0.35, s * 0.22, s * 0.3, s * 0.28), 160 * 16, -250 * 16)
        painter.drawLine(point(0.5, 0.5), point(0.5, 0.58))
        painter.drawPoint(point(0.5, 0.75))
    else:  # not connected: a dash
        painter.drawLine(point(0.3, 0.5), point(0.7, 0.5))
    painter.end()
    return pixmap


@lru_cache(maxsize=1)
def _local_offset(_hour: int) -> timedelta:
    offset = datetime.now().astimezone().utcoffset()
    return offset if offset is not None else timedelta(0)


def format_time(moment: datetime | None) -> str:
    """Return a time in the operator's local zone as "YYYY-MM-DD HH:MM", or "" for none.

    Times without a zone are UTC, as Leaf sends them.
    """
    if moment is None:
        return ""
    if moment.tzinfo is None:
        utc = moment
    elif moment.tzinfo is timezone.utc:
        utc = moment.replace(tzinfo=None)
    else:
        utc = moment.astimezone(timezone.utc).replace(tzinfo=None)
    # NOTE: the zone's current UTC offset is applied to every time (looked up again each
    # hour), so a time on the other side of a daylight-saving change shows one hour off.
    # Converting each time exactly costs a system call per time, too slow for 50,000 rows.
    local = utc + _local_offset(int(time.time() // 3600))
    return (f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
            f"{local.hour:02d}:{local.minute:02d}")


def format_age(moment: datetime | None, now: datetime | None = None) -> str:
    """Return how long ago `moment` was, in rough words ("5 minutes ago"), or "" for none."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return _tr("just now")
    if seconds < 3600:
        return _tr("{n} min ago").format(n=seconds // 60)
    if seconds < 86400:
        return _tr("{n} h ago").format(n=seconds // 3600)
    return _tr("{n} days ago").format(n=seconds // 86400)
