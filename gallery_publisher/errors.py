"""Errors the publishing core raises: each names the problem and the fix."""


class PublishError(Exception):
    """Base of every refusal the tool explains to its user."""


class ImageNameError(PublishError):
    """A file name that matches none of the accepted patterns."""


class SettingsError(PublishError):
    """A setting with a value that is not allowed."""


class IndexOverflowError(PublishError):
    """An upload index that no longer fits its family's digits or the version number limits."""
