"""The HTTP transport: one short-lived connection per request, JSON in and out, file bodies streamed.

Only the standard library (http.client). Errors come out as two exceptions the callers classify:
``NetworkError`` (nothing usable came back: refused, reset, timeout, a lost response) and
``HttpError`` (the server answered with a non-2xx status).
"""
import http.client
import json
import os
import socket
import ssl
from urllib.parse import quote, urlencode, urlsplit

from . import __version__

#: Bytes per send() when streaming a file body.
BLOCK_SIZE = 64 * 1024


class NetworkError(Exception):
    """The request may or may not have reached the server; no answer came back."""


class HttpError(Exception):
    """The server answered with a non-2xx status."""

    def __init__(self, status, message, body=None, retry_after=None):
        super().__init__("HTTP %d: %s" % (status, message))
        self.status = status
        self.message = message
        self.body = body
        self.retry_after = retry_after

    @property
    def retryable(self):
        """5xx, 408 and 429 are worth retrying; any other status is a final answer."""
        return self.status >= 500 or self.status in (408, 429)


def normalize_host(host):
    """``127.0.0.1:8000`` -> ``http://127.0.0.1:8000``; a trailing slash is dropped."""
    host = (host or "").strip()
    if not host:
        return host
    if "://" not in host:
        host = "http://" + host
    return host.rstrip("/")


def quote_path(segment):
    return quote(str(segment), safe="")


class Transport:
    """Talks to one base URL (scheme, host, port and an optional path prefix) with one token."""

    def __init__(self, host, token=None, timeout=10.0):
        self.base = normalize_host(host)
        parts = urlsplit(self.base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("not an http(s) URL: %r" % host)
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self.timeout = timeout

    def __repr__(self):  # never shows the token
        return "Transport(%r)" % self.base

    def _connection(self, timeout):
        if self._https:
            return http.client.HTTPSConnection(
                self._netloc, timeout=timeout, context=ssl.create_default_context(), blocksize=BLOCK_SIZE
            )
        return http.client.HTTPConnection(self._netloc, timeout=timeout, blocksize=BLOCK_SIZE)

    def _headers(self, extra=None):
        headers = {"Accept": "application/json", "User-Agent": "myelin-python/%s" % __version__}
        if self._token:
            headers["Authorization"] = "token %s" % self._token
        if extra:
            headers.update(extra)
        return headers

    def url(self, path, query=None):
        url = self._prefix + path
        if query:
            url += "?" + urlencode(query)
        return url

    def request(self, method, path, body=None, query=None, timeout=None):
        """Sends JSON (``body`` is any JSON-able value, NaN-free) and answers the parsed JSON reply."""
        data = None
        extra = {}
        if body is not None:
            data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode("utf-8")
            extra = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        return self._exchange(method, self.url(path, query), data, self._headers(extra), timeout)

    def upload(self, path, query, file_path, timeout=None):
        """PUTs a file as the raw body, streamed from disk with a Content-Length (never read whole)."""
        size = os.path.getsize(file_path)
        headers = self._headers({"Content-Type": "application/octet-stream", "Content-Length": str(size)})
        with open(file_path, "rb") as f:
            return self._exchange("PUT", self.url(path, query), f, headers, timeout)

    def _exchange(self, method, url, data, headers, timeout):
        conn = self._connection(self.timeout if timeout is None else timeout)
        try:
            try:
                conn.request(method, url, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException, socket.timeout) as e:
                # Refused, reset, timed out, or the connection closed before a full answer: for the
                # caller all of these mean "unknown outcome, retry with the same batch id".
                raise NetworkError("%s %s: %s" % (method, url.split("?")[0], _describe(e))) from None
            status = response.status
            if 200 <= status < 300:
                if not raw:
                    return None
                try:
                    return json.loads(raw.decode("utf-8"))
                except ValueError:
                    return raw.decode("utf-8", "replace")
            message = _error_message(raw) or response.reason or "error"
            retry_after = _retry_after(response.getheader("Retry-After"))
            raise HttpError(status, message, raw, retry_after)
        finally:
            conn.close()


def _describe(e):
    text = str(e) or e.__class__.__name__
    return "%s (%s)" % (text, e.__class__.__name__) if str(e) else text


def _error_message(raw):
    if not raw:
        return ""
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except ValueError:
        return raw.decode("utf-8", "replace")[:500]
    if isinstance(parsed, dict):
        message = parsed.get("message", parsed.get("error", ""))
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message)
        return str(message)[:2000]
    return str(parsed)[:500]


def _retry_after(value):
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
