"""Stop, pause and resume a training call from another thread (the app's keys, the CLI's Ctrl+C)."""

from __future__ import annotations

import threading


class Control:
    """Stop / pause / resume a training call from any thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stopped = False
        self._paused = False

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def paused(self) -> bool:
        return self._paused

    def wait_while_paused(self) -> None:
        """Block while paused; return on resume() or stop()."""
        with self._cond:
            while self._paused and not self._stopped:
                self._cond.wait()
