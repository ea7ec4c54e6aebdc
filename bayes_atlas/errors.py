"""Exception types shared across the package."""


class UnknownLanguageError(ValueError):
    """A language code that is malformed or names no language."""


class DatasetError(RuntimeError):
    """A public dataset could not be found, downloaded or verified."""
