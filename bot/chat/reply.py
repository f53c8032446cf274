"""What a handler returns: text (HTML), optional buttons, optional image. Transports only adapt it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button; ``data`` is the command text it stands for (``/subscribe price below 60k``)."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer. ``text`` is HTML-safe; ``error`` replies are shown privately where possible."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    image_png: bytes | None = None
    error: bool = False
    extra: dict[str, str] = field(default_factory=dict)
