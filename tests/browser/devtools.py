"""Drive headless Chromium through the Chrome DevTools Protocol (just what the tests need)."""

from __future__ import annotations

import json
import time
from typing import Any

import websocket

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Flags from this machine's notes: no sandbox as root, and no background traffic to
# Google's hosts (the closed network refuses it, and a course must not need it).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class DevTools:
    """The few Chrome DevTools Protocol calls the tests need, over one page's websocket."""

    def __init__(self, websocket_url: str):
        self.socket = websocket.create_connection(websocket_url, timeout=60)
        self.last_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") != self.last_id:
                self.events.append(message)  # e.g. Network.requestWillBeSent
                continue
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            return message["result"]

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page (promises are awaited)."""
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def requested_urls(self) -> list[str]:
        return [
            event["params"]["request"]["url"]
            for event in self.events
            if event.get("method") == "Network.requestWillBeSent"
        ]

    def settle(self, quiet: float = 2.0, timeout: float = 30.0) -> None:
        """Wait until the page has sent no new request for ``quiet`` seconds: a stylesheet
        may import fonts a few seconds after the content is on screen."""
        deadline = time.monotonic() + timeout
        count, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            self.evaluate("document.readyState")  # reads the events that arrived meanwhile
            if len(self.events) != count:
                count, since = len(self.events), time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.2)
        raise TimeoutError(f"the page kept loading for {timeout:.0f} s")

    def close(self) -> None:
        self.socket.close()
