"""The two kinds of failure photocull knows.

A bad *photo* is an ``UnreadableFile``: it is recorded with its reason and the
run goes on. A threat to *data integrity* (the catalog cannot be written, the
disk is full) is a ``FatalError``: the run stops with a clear message and a
non-zero exit, keeping what was already committed.
"""


class UnreadableFile(Exception):
    """This file cannot be used as a photo; the message says why, for people."""


class FatalError(Exception):
    """The run cannot go on safely; the message says why and what to do."""


class CatalogError(FatalError):
    """The catalog database cannot be opened, read or written."""


class DiskFullError(FatalError):
    """No space left where photocull has to write."""


class ModelUnavailable(FatalError):
    """A scan needs a model whose weights are missing or damaged; the message says how to fix it."""
