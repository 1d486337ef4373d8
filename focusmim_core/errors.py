"""Errors raised for problems with a user's input: the message says what is wrong and what to do."""

from __future__ import annotations

import re


class InputError(ValueError):
    """A problem with something the user supplied (image, checkpoint, dataset, setting).

    The message is meant to be shown to the user as it is: it names the problem and
    says what to do about it. The app shows it instead of a traceback.
    """


class CheckpointError(InputError):
    """A checkpoint file that cannot be loaded (wrong architecture, truncated, unsafe)."""


class DatasetError(InputError):
    """A dataset that is missing, truncated or inconsistent."""


ECHO_LIMIT = 40  # characters of a user's value repeated in a message


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """A user's value quoted for a Markdown message: inline code, backticks and line breaks removed,
    cut to ``limit`` characters, so a crafted link cannot style the message or load anything."""
    text = " ".join(str(value).replace("`", "'").split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"`{text}`" if text else "`''`"


MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character: Markdown may escape each


def markdown_text(value: object) -> str:
    """Any text (checkpoint metadata, a file name) for a Markdown message, shown exactly as written: every ASCII
    punctuation character backslash-escaped and line breaks joined, so it can neither link, load an image, start
    a table cell or a heading, nor style the page. The one escape for text that reaches Markdown."""
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", " ".join(str(value).split()))
