"""HTTP to the portal's /api/, with the server's error message turned into a CliError."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from berth_cli import __version__
from berth_cli.errors import CliError

CONNECT_TIMEOUT = 10
# Restart and synchronous deploys wait for the app's health check (up to 230 s).
READ_TIMEOUT = 600


class NotFound(CliError):
    pass


class Client:
    def __init__(self, url: str, token: str = "") -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"berth-cli/{__version__}"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict | None = None,
        data: Any = None,
        headers: dict | None = None,
        stream: bool = False,
        expect_json: bool = True,
        timeout: float = READ_TIMEOUT,
    ) -> requests.Response:
        url = self.url + path
        try:
            response = self.session.request(
                method,
                url,
                json=json,
                params=params,
                data=data,
                headers=headers,
                stream=stream,
                timeout=(CONNECT_TIMEOUT, timeout),
            )
        except requests.exceptions.ConnectionError as e:
            raise CliError(
                f"Cannot reach the Berth portal at {self.url}: is it running, and is the URL "
                f"right? ({type(e).__name__})"
            ) from e
        except requests.exceptions.Timeout as e:
            raise CliError(
                f"The portal at {self.url} did not answer in time ({method} {path})."
            ) from e
        except requests.exceptions.RequestException as e:
            raise CliError(f"{method} {url} failed: {e}") from e
        if response.status_code >= 400:
            raise self._error(response, method, path)
        return response

    def call(self, method: str, path: str, **kwargs) -> Any:
        """The JSON answer of a request (None for 204)."""
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as e:
            raise CliError(
                f"The portal answered {method} {path} with something that is not JSON: "
                "is the URL a Berth portal?"
            ) from e

    def lines(self, path: str, params: dict | None = None) -> Iterator[str]:
        """A streamed text answer, line by line (the log stream)."""
        response = self.request("GET", path, params=params, stream=True, timeout=3600)
        # Each piece as it arrives (read1): iter_lines() waits for 512 bytes,
        # so a quiet app's last lines would never be printed.
        raw = response.raw
        read = raw.read1 if hasattr(raw, "read1") else lambda n: raw.read(1)  # urllib3 < 2
        pending = b""
        with response:
            while chunk := read(65536):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace").rstrip("\r")
        if pending:
            yield pending.decode("utf-8", "replace")

    def _error(self, response: requests.Response, method: str, path: str) -> CliError:
        message = _error_message(response)
        status = response.status_code
        if status == 401 and "berth login" in message:
            return CliError(message)  # e.g. the token expired: the portal says what to do
        if status == 401:
            return CliError(
                f"{message} (the portal at {self.url} did not accept the token: run "
                "`berth login` again)"
            )
        if status == 404:
            return NotFound(message or f"{method} {path}: not found on {self.url}.")
        return CliError(message or f"{method} {path} failed with HTTP {status}.")


def _error_message(response: requests.Response) -> str:
    """The portal's `{"error": {"code", "message"}}`, or `{"error": "..."}`, or the text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        if "<html" in text[:200].lower():
            return ""
        return text[:500]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code, message = error.get("code", ""), error.get("message", "")
            return f"({code}) {message}" if code else str(message)
        if isinstance(error, str):
            return error
    return ""
