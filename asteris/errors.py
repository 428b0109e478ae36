"""Exceptions raised by asteris: one class per problem, each message says the fix."""

from __future__ import annotations

__all__ = [
    "AsterisError",
    "TooFewExposuresError",
    "StackMismatchError",
    "EmptyStackError",
    "NotFITSError",
    "CheckpointError",
    "ConfigError",
    "OutputExistsError",
    "OutputPathError",
    "MissingExtraError",
    "ArchiveUnreachableError",
    "DownloadError",
]


class AsterisError(Exception):
    """Base class of every error asteris raises on purpose."""


class TooFewExposuresError(AsterisError, ValueError):
    """The stack has fewer exposures than the model needs."""


class StackMismatchError(AsterisError, ValueError):
    """The frames of a stack differ in shape or WCS (they are not aligned)."""


class EmptyStackError(AsterisError, ValueError):
    """The stack has no valid (finite, non-zero) pixel, or none common to all frames."""


class NotFITSError(AsterisError, ValueError):
    """A file that should be FITS is not, or holds no image."""


class CheckpointError(AsterisError, ValueError):
    """A checkpoint cannot be read, or is of the wrong variant."""


class ConfigError(AsterisError, ValueError):
    """A configuration has an unknown key, a bad value or another schema version."""


class OutputExistsError(AsterisError, FileExistsError):
    """An output path exists and overwriting was not asked for."""


class OutputPathError(AsterisError, OSError):
    """An output cannot be written where it was asked for: a missing or read-only folder."""


class ArchiveUnreachableError(AsterisError, ConnectionError):
    """An archive cannot be reached (no network, DNS failure, service down)."""


class DownloadError(AsterisError, OSError):
    """A file could not be downloaded completely and intact."""


class MissingExtraError(AsterisError, ImportError):
    """An optional part of asteris was used without the packages of its extra installed."""
