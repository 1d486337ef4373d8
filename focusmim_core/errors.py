"""Errors raised for problems with a user's input: the message says what is wrong and what to do."""

from __future__ import annotations


class InputError(ValueError):
    """A problem with something the user supplied (image, checkpoint, dataset, setting).

    The message is meant to be shown to the user as it is: it names the problem and
    says what to do about it. The app shows it instead of a traceback.
    """


class CheckpointError(InputError):
    """A checkpoint file that cannot be loaded (wrong architecture, truncated, unsafe)."""


class DatasetError(InputError):
    """A dataset that is missing, truncated or inconsistent."""
