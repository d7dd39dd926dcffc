"""Building blocks shared by the connect forms: labelled fields with help and inline errors.

A `FieldForm` lays out fields as label, editor, error line and help text, and maps the per-field
errors of `core.validation` (or Leaf's `fieldErrors`) back onto the editor they belong to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from leafdesk.core.errors import LeafError, ValidationError
from leafdesk.core.model import Environment, LeafUser

log = logging.getLogger(__name__)


def _tr(text: str) -> str:
    return QCoreApplication.translate("FieldForm", text)


def is_dark(palette: QPalette) -> bool:
    """Return whether the palette's window colour is dark, so accents can stay readable."""
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def error_colour(palette: QPalette) -> str:
    """Return a red that reads well on the palette's window colour, light or dark."""
    return "#ff8a80" if is_dark(palette) else "#b00020"


def warning_colour(palette: QPalette) -> str:
    """Return an amber that reads well on the palette's window colour, light or dark."""
    return "#ffd180" if is_dark(palette) else "#8a4b00"


def success_colour(palette: QPalette) -> str:
    """Return a green that reads well on the palette's window colour, light or dark."""
    return "#9ccc65" if is_dark(palette) else "#1b5e20"


def fit_height(widget: QWidget, min_width: int = 0) -> None:
    """Resize a dialog to the height its layout needs at its width, growing or shrinking.

    Wrapped labels make the height depend on the width, which `sizeHint()` cannot know, so a
    dialog whose inline errors appear would otherwise squash its rows together.
    """
    layout = widget.layout()
    if layout is None:
        return
    layout.activate()
    width = max(widget.width(), min_width)
    height = layout.totalHeightForWidth(width)
    # Qt takes a window's minimum height from the layout's minimum size, which ignores wrapped
    # text, so a smaller window would squash its rows. At the narrowest width the dialog
    # allows, the text is tallest, so that height is the smallest that never squashes.
    narrowest = widget.minimumWidth() or width
    widget.setMinimumHeight(max(layout.totalHeightForWidth(narrowest), 0))
    widget.resize(width, height if height > 0 else widget.sizeHint().height())


def about_user(error: LeafError, user: LeafUser) -> LeafError:
    """Name the Leaf user in `error` by name, where the client could only name them by id."""
    if not error.leaf_user or error.leaf_user == user.id:
        error.leaf_user = user.name or user.id
    return error


class ToneLabel(QLabel):
    """A label coloured by tone ("error", "warning", "success" or "" for the palette's text).

    The colour follows the palette, so a switch between light and dark while the label is
    shown recolours it. Only the text role is set on the label's own palette, because a style
    sheet or a full palette would stop the application's palette from reaching it.
    """

    TONES = {"error": error_colour, "warning": warning_colour, "success": success_colour}

    def __init__(self, text: str = "", parent: QWidget | None = None, *, tone: str = "",
                 bold: bool = False) -> None:
        """Create the label with its `tone`; `bold` makes the text bold."""
        super().__init__(text, parent)
        self._tone = tone
        self._coloured = False
        if bold:
            font = self.font()
            font.setBold(True)
            self.setFont(font)
        self._apply_tone()

    def set_tone(self, tone: str) -> None:
        self._tone = tone
        self._apply_tone()

    def tone(self) -> str:
        return self._tone

    def tone_colour(self) -> str:
        """Return the text colour shown now, as #rrggbb."""
        return self.palette().color(QPalette.ColorRole.WindowText).name()

    def _apply_tone(self) -> None:
        text_role = QPalette.ColorRole.WindowText
        if not self._tone:
            if self._coloured:
                self._coloured = False
                self.setPalette(QPalette())  # nothing set of its own: every role is inherited
            return

        colour = QColor(self.TONES[self._tone](self.palette()))
        # Setting the palette raises another change event, so set it only when it differs.
        if self._coloured and self.palette().color(text_role) == colour:
            return
        self._coloured = True
        palette = QPalette()
        palette.setColor(text_role, colour)
        self.setPalette(palette)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_tone()


def literal_mnemonic_text(text: str) -> str:
    """Return `text` with each "&" doubled, for a label with a buddy or a button title.

    Qt reads a single "&" there as the marker of a keyboard mnemonic and hides it, so a name
    such as "Land & Cattle" would show as "Land _Cattle".
    """
    return text.replace("&", "&&")


def field_key(name: str) -> str:
    """Normalise a field name so `sharing_url_id`, `sharingUrlId` and `SharingUrlId` all match."""
    return name.replace("_", "").replace("-", "").lower()


class SecretEdit(QWidget):
    """A masked line edit with a Show/Hide button, for passwords and tokens."""

    textChanged = Signal(str)

    def __init__(self, accessible_name: str, parent: QWidget | None = None) -> None:
        """Build the masked editor; `accessible_name` names the secret for screen readers."""
        super().__init__(parent)
        self.line_edit = QLineEdit(self)
        self.line_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.line_edit.setAccessibleName(accessible_name)
        self.line_edit.textChanged.connect(self.textChanged)

        self.toggle = QToolButton(self)
        self.toggle.setCheckable(True)
        self.toggle.setText(self.tr("Show"))
        self.toggle.setAccessibleName(self.tr("Show %1").replace("%1", accessible_name.lower()))
        self.toggle.setToolTip(self.tr("Show or hide what you typed"))
        self.toggle.toggled.connect(self._set_shown)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line_edit, 1)
        layout.addWidget(self.toggle)
        self.setFocusProxy(self.line_edit)

    def _set_shown(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.line_edit.setEchoMode(mode)
        self.toggle.setText(self.tr("Hide") if shown else self.tr("Show"))

    def text(self) -> str:
        return self.line_edit.text()

    def setText(self, text: str) -> None:  # noqa: N802 - mirrors QLineEdit
        self.line_edit.setText(text)

    def clear(self) -> None:
        self.line_edit.clear()


def environment_combo(parent: QWidget | None = None) -> QComboBox:
    """Build a STAGE/PRODUCTION chooser whose item data is the `Environment` value."""
    combo = QComboBox(parent)
    combo.addItem(_tr("STAGE (Panorama's test environment)"), Environment.STAGE.value)
    combo.addItem(_tr("PRODUCTION (growers' real data)"), Environment.PRODUCTION.value)
    return combo


@dataclass
class FormField:
    """One row of a form: the editor, the line under it for its error, and its help text."""

    key: str
    label: QLabel
    editor: QWidget
    error: QLabel
    help: QLabel
    warning: QLabel

    def value(self) -> str:
        if isinstance(self.editor, QComboBox):
            return str(self.editor.currentData())
        return self.editor.text()  # QLineEdit and SecretEdit


class FieldForm(QWidget):
    """A form of labelled fields, each with help text and an inline error line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        """Create an empty form; add rows with `add_field`."""
        super().__init__(parent)
        self.fields: dict[str, FormField] = {}
        # A grid row each for the editor, its error and its help text: a QFormLayout with those
        # three in one nested widget gave wrapped help text less height than it needs once an
        # error appeared, so the error overlapped it.
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setVerticalSpacing(2)
        self._layout.setColumnStretch(1, 1)

    def add_field(self, key: str, label: str, editor: QWidget, help_text: str) -> FormField:
        """Add a row; `key` is the field's name in `core.validation`, `label` may hold an &."""
        label_widget = QLabel(label, self)
        label_widget.setBuddy(editor)

        error = ToneLabel(parent=self, tone="error")
        error.setWordWrap(True)
        error.setVisible(False)
        error.setObjectName(f"error_{key}")

        # A warning does not stop the form from being sent, unlike an error.
        warning = ToneLabel(parent=self, tone="warning")
        warning.setWordWrap(True)
        warning.setTextFormat(Qt.TextFormat.PlainText)
        warning.setVisible(False)
        warning.setObjectName(f"warning_{key}")

        help_label = QLabel(help_text, self)
        help_label.setWordWrap(True)
        help_label.setTextFormat(Qt.TextFormat.PlainText)
        help_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        font = help_label.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        help_label.setFont(font)

        # The help text spans the whole field column even when its editor does not (a combo
        # box), so it wraps at the full width instead of into a narrow, clipped strip.
        row = self._layout.rowCount()
        if row > 0:
            self._layout.setRowMinimumHeight(row, 8)  # space between one field and the next
            row += 1
        alignment = (Qt.AlignmentFlag.AlignLeft if isinstance(editor, QComboBox)
                     else Qt.AlignmentFlag(0))
        label_widget.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._layout.addWidget(label_widget, row, 0)
        self._layout.addWidget(editor, row, 1, alignment)
        self._layout.addWidget(error, row + 1, 1)
        self._layout.addWidget(warning, row + 2, 1)
        self._layout.addWidget(help_label, row + 3, 1)
        if not editor.accessibleName():
            editor.setAccessibleName(label.replace("&", ""))
        editor.setAccessibleDescription(help_text)

        form_field = FormField(key, label_widget, editor, error, help_label, warning)
        self.fields[field_key(key)] = form_field
        return form_field

    def values(self) -> dict[str, str]:
        """Return each field's current text (combo boxes: their item data) by key."""
        return {f.key: f.value() for f in self.fields.values()}

    def clear_errors(self) -> None:
        for form_field in self.fields.values():
            form_field.error.clear()
            form_field.error.setVisible(False)

    def show_errors(self, error: ValidationError) -> list[str]:
        """Put each field error next to its field and focus the first one.

        Returns the messages that belong to no field of this form, for a general error line.
        """
        self.clear_errors()
        unplaced: list[str] = []
        first: FormField | None = None
        for field_error in error.field_errors:
            form_field = self.fields.get(field_key(field_error.field))
            if form_field is None:
                unplaced.append(field_error.message)
                continue
            form_field.error.setText(field_error.message)
            form_field.error.setVisible(True)
            first = first or form_field
        if first is not None:
            first.editor.setFocus(Qt.FocusReason.OtherFocusReason)
        return unplaced

    def set_warning(self, key: str, text: str) -> None:
        """Show `text` as a warning under a field, or hide the warning when `text` is empty."""
        warning = self.fields[field_key(key)].warning
        warning.setText(text)
        warning.setVisible(bool(text))

    def warning_text(self, key: str) -> str:
        """Return the warning shown under a field, or an empty string when it has none."""
        warning = self.fields[field_key(key)].warning
        return "" if warning.isHidden() else warning.text()

    def error_text(self, key: str) -> str:
        """Return the error shown under a field, or an empty string when it has none."""
        form_field = self.fields[field_key(key)]
        return "" if form_field.error.isHidden() else form_field.error.text()


class ErrorPanel(QWidget):
    """One sentence saying what failed, with the details behind a Details button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        """Create a hidden panel; `show_error` fills and shows it."""
        super().__init__(parent)
        self.sentence = ToneLabel(parent=self, tone="error")
        self.sentence.setWordWrap(True)
        self.sentence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.details_button = QToolButton(self)
        self.details_button.setText(self.tr("Details"))
        self.details_button.setCheckable(True)
        self.details_button.setAccessibleName(self.tr("Show error details"))

        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setVisible(False)
        self.details.setMaximumHeight(120)
        self.details_button.toggled.connect(self.details.setVisible)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.sentence, 1)
        top.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.details)
        self.setVisible(False)

    def show_error(self, sentence: str, details: str | None = None) -> None:
        self.sentence.setText(sentence)
        self.details.setPlainText(details or "")
        self.details_button.setVisible(bool(details))
        self.details_button.setChecked(False)
        self.setVisible(True)

    def show_leaf_error(self, error: LeafError) -> None:
        """Show a core error as its one sentence, with status and Leaf's details expandable."""
        parts = []
        if error.status_code is not None:
            parts.append(f"HTTP {error.status_code}")
        if error.details:
            parts.append(error.details)
        parts.append(type(error).__name__)
        self.show_error(error.sentence(), "\n".join(parts))

    def clear(self) -> None:
        self.sentence.clear()
        self.details.clear()
        self.setVisible(False)
