"""The operator CLI's way to the api: JSON over HTTP, every failure turned into one sentence."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class CliError(Exception):
    """What went wrong, in one sentence for stderr; the command exits non-zero."""


class ApiClient:
    def __init__(self, base_url: str, api_key: str | None, timeout_s: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CliError(f"--api must be an http:// or https:// URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (URL checked above)
        request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header("X-API-Key", self.api_key)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise CliError(_http_error(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach the api at {self.base_url}: {reason}") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise CliError(f"{self.base_url} did not answer JSON; is it the vosync api?") from None

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)


def _http_error(exc: urllib.error.HTTPError) -> str:
    detail = ""
    try:
        payload = json.loads(exc.read() or b"{}")
        detail = str(payload.get("detail") or payload.get("message") or "")
    except (ValueError, AttributeError, OSError):
        pass
    if exc.code == 401:
        return "the api wants an API key: set VOSYNC_API_KEY"
    if exc.code == 403:
        return "this API key may not do that (an admin key is needed)"
    return f"the api answered {exc.code}" + (f": {detail}" if detail else "")
