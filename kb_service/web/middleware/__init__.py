"""ASGI middleware and request guards: headers, compression, the request log, timeouts, abuse limits."""
