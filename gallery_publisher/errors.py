"""Errors the publishing core raises: each names the problem and the fix."""


class PublishError(Exception):
    """Base of every refusal the tool explains to its user."""


class ImageNameError(PublishError):
    """A file name that matches none of the accepted patterns."""


class SettingsError(PublishError):
    """A setting with a value that is not allowed."""


class IndexOverflowError(PublishError):
    """An upload index that no longer fits its family's digits or the version number limits."""


def error_code_of(error: Exception) -> str:
    """A short code for a report: the Azure error code when there is one, else the error's kind."""
    code = getattr(error, "code", None)
    return str(code) if code else type(error).__name__.removesuffix("Error") or type(error).__name__
