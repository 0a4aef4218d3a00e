"""Request bodies in one place: size limits, JSON objects, forms (query strings and ids: web/api/queries.py
and kb_service/inputs.py).

Everything a client can send wrong becomes a KBError with a message a person can act on, never
a 500: oversized bodies (413), unknown content types (415), malformed JSON or forms (400).
"""

from __future__ import annotations

import json
import re

from starlette.requests import Request

from kb_service.errors import KBError, PayloadTooLarge, UnsupportedMediaType
from kb_service.feedback import forms


MAX_JSON_BODY = 64 * 1024
MAX_JSON_DEPTH = 20
# str.isdigit() accepts "²" and "①", which int() refuses: ids and counts are ASCII digits only.
ASCII_INT = re.compile(r"[0-9]+")


async def read_body(request: Request, limit: int = MAX_JSON_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared and ASCII_INT.fullmatch(declared) and int(declared) > limit:
        raise PayloadTooLarge(f"请求体太大：最多 {limit // 1024} KB")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"请求体太大：最多 {limit // 1024} KB")
    return body


async def read_json(request: Request) -> dict:
    """A JSON object body, with a size limit; anything else is a clear 4xx."""
    body = await read_body(request)
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise KBError("请求体不是有效的 JSON") from None
    except RecursionError:
        data = None
        raise KBError(f"JSON 嵌套太深：最多 {MAX_JSON_DEPTH} 层") from None
    if too_deep(data, MAX_JSON_DEPTH):
        raise KBError(f"JSON 嵌套太深：最多 {MAX_JSON_DEPTH} 层")
    if not encodable(data):
        raise KBError("请求体含有无效的 Unicode 字符（单独的代理项），请检查输入内容")
    if not isinstance(data, dict):
        raise KBError("请求体应为 JSON 对象，例如 {\"channel\": \"sms\", \"fields\": {...}}")
    return data


def too_deep(value, limit: int) -> bool:
    """Deeper than `limit` levels of objects/arrays (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def encodable(value) -> bool:
    """JSON may carry lone surrogates (\\ud800) that no UTF-8 store or response can hold."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(encodable(k) and encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(encodable(v) for v in value)
    return True


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_submission(request: Request) -> tuple[dict, bool]:
    """(fields, came from a plain HTML form). JSON and form bodies share one size limit."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in FORM_TYPES:
        body = await read_body(request)
        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Request(request.scope, replay).form(max_files=0, max_fields=40, max_part_size=MAX_JSON_BODY)
        except Exception:  # malformed multipart: python-multipart raises several kinds
            raise KBError("表单格式无法解析，请从本站页面重新提交") from None
        return forms.from_form(form), True
    if ctype not in ("application/json", ""):
        raise UnsupportedMediaType(f"不支持的内容类型 {ctype}：请用 application/json 或表单提交")
    return await read_json(request), False


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"

