"""The one exception the client raises at its caller."""


class MyelinError(Exception):
    """A request the server refused for good (a params conflict, a bad value, a bad token), or a
    misconfiguration. ``status`` is the HTTP status when there was one."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status
