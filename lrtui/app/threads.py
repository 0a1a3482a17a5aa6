"""How the app's worker threads share the machine with the UI: garbage collection paused around
trainings, and training threads at a lower CPU priority than the UI thread.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading

_GC_THRESHOLDS = gc.get_threshold()


def settle_gc() -> None:
    """Collect now (an idle moment), then move every survivor out of the collector's reach:
    torch, Textual and the run history live as long as the app, and full passes over them took
    100-270 ms each, freezing the screen mid-training. Normal collection thresholds again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


def pause_full_gc() -> None:
    """While a training runs, only young generations are collected (cheap, frequent); the full
    pass waits for `settle_gc` at the end. A session's garbage cycles are small; this trades a
    little memory for a screen that never stalls while runs stream in."""
    gen0, gen1, _ = _GC_THRESHOLDS
    gc.set_threshold(gen0, gen1, 1_000_000)


def yield_cpu_to_ui() -> None:
    """Lower this (training) thread's CPU priority where the OS allows it (Linux: per-thread nice).
    On a busy CPU the UI and chart threads then run first: keys stay quick, training barely slows
    (it gets every cycle the UI does not use). Threads torch starts from here inherit it."""
    if os.environ.get("LRTUI_TRAIN_NICE") == "0":
        return
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)

