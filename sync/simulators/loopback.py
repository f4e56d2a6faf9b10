"""What every simulator shares: its HTTP server on 127.0.0.1, served from a daemon thread,
started and stopped (also as a `with` block). Subclasses create `self._httpd`."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    _httpd: ThreadingHTTPServer
    _thread: threading.Thread | None = None

    def thread_name(self) -> str:
        return "kpibook-simulator"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=self.thread_name(), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
