"""Business rules as plain functions: they change state, flush, audit, and return objects."""


class ServiceError(Exception):
    """A rule said no; the message is written for the person who asked."""
