"""The one exception type handlers raise to answer with an AWS error."""


class ApiError(Exception):
    """An AWS error response: `code` is AWS's error code (the value of
    x-amzn-ErrorType, <Code> or __type), `status` the HTTP status."""

    def __init__(self, code, message, status=400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
