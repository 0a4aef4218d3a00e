"""Errors a person can act on. Each carries its HTTP status; one handler renders them."""

from __future__ import annotations


class KBError(Exception):
    status_code = 400

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_json(self) -> dict:
        return {"error": self.message, **self.extra}


class UsageError(KBError):
    """Bad configuration or command-line use (exit code 2)."""


class ContentError(KBError):
    """Content in docs/ or snippets/ is invalid (exit code 1)."""

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = problems or []


class NotFound(KBError):
    status_code = 404


class PayloadTooLarge(KBError):
    status_code = 413


class UnsupportedMediaType(KBError):
    status_code = 415


class TooManyRequests(KBError):
    status_code = 429


class Unauthorized(KBError):
    status_code = 401


class Conflict(KBError):
    status_code = 409


class ValidationFailed(KBError):
    status_code = 422

    MAX_ERRORS = 30     # 6,000 unknown keys must not make a 1 MB answer

    def __init__(self, errors: list[dict], message: str = "有字段未通过检查，请按提示修改后再提交"):
        if len(errors) > self.MAX_ERRORS:
            more = len(errors) - self.MAX_ERRORS
            errors = errors[:self.MAX_ERRORS] + [{"field": "", "message": f"另有 {more} 处问题未列出，请先修改上面这些"}]
        super().__init__(message, errors=errors)
        self.errors = errors
