"""Time to the app's first frame and to its first preview, against `import torch` (a script, not a
test).

Each repeat launches, in fresh subprocesses of this interpreter, one after the other:
(a) `python -c pass`: the interpreter alone, for scale;
(b) `python -c "import torch"`: what torch costs before anything can use it;
(c) the app as `lrtui` starts it (the CLI's parser with every command, the store, `LrtuiApp` with
    the default form), run headless by Textual at 120x40. Its first frame is the first screen
    update Textual hands to its driver (compose, mount and layout done, the update rendered to
    the terminal's escape sequences; only the write is skipped); its first preview is the first
    update after the exact LR schedule of the form is drawn on the LR chart (the app `settled`).
Every time is from the parent's clock just before the launch (CLOCK_MONOTONIC is shared by all
processes) to the moment the child reaches it, so interpreter start and imports count. The
child also says whether torch was already imported at its first frame.

Repeats are interleaved, so load from other processes falls on all three alike; the table shows
the median and the spread (min-max). As after an install, bytecode caches are on (the children
run without PYTHONDONTWRITEBYTECODE) and one uncounted launch of each fills them and the disk
cache. Target: the first frame within half of torch's import time.

    python bench/startup.py [--repeat 7] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The child gives up (and says so) when no preview is drawn within this time.
CHILD_TIMEOUT_S = 120.0
SIZE = (120, 40)
TARGET_RATIO = 0.5


def child(db: str) -> None:
    """Start the app as `lrtui` does and print the monotonic times of its first frame and first
    preview as one JSON line, then leave at once (workers still busy do not hold the exit)."""
    sys.path.insert(0, str(ROOT))
    from lrtui.cli import build_parser

    build_parser().parse_args([])  # `lrtui` builds its whole parser (every command) first
    from lrtui.app.app import LrtuiApp
    from lrtui.app.form import FormValues
    from lrtui.store import Store

    times: dict[str, Any] = {}

    def leave(code: int) -> None:
        sys.stdout.write(json.dumps(times) + "\n")
        sys.stdout.flush()
        os._exit(code)

    store = Store(Path(db))
    app = LrtuiApp(store=store, initial=FormValues(dataset="mnist"))
    display = app._display

    def timed_display(screen: Any, renderable: Any) -> None:
        """Textual's own `_display` (private: where every screen update leaves for the driver),
        noting when it does."""
        display(screen, renderable)
        if renderable is None or app._batch_count:
            return  # no update leaves for the terminal (as in App._display)
        if hasattr(renderable, "render_segments"):  # what a terminal would be sent
            renderable.render_segments(app.console)
        now = time.monotonic()
        if "first_frame" not in times:
            times["first_frame"] = now
            times["torch_at_first_frame"] = "torch" in sys.modules
        if app.preview is not None and app.settled:
            times["first_preview"] = now
            times["preview_label"] = app.preview.label
            leave(0)

    app._display = timed_display  # type: ignore[method-assign]
    threading.Timer(CHILD_TIMEOUT_S, leave, (3,)).start()
    app.run(headless=True, size=SIZE)
    leave(4)  # the app ended without a preview


def child_env() -> dict[str, str]:
    """The environment of every child: this one, with bytecode caches on (as after an install)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def launch(args: list[str]) -> tuple[float, str]:
    """Seconds from just before the launch to the child's exit, and its output."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False,
                          cwd=ROOT, env=child_env())
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, done.stdout


def app_once(tmp: Path, i: int) -> dict[str, Any]:
    """One launch of the app: seconds from just before the launch to its first frame and first
    preview."""
    db = tmp / f"startup-{i}.db"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, __file__, "--child", str(db)], capture_output=True,
                          text=True, check=False, cwd=ROOT, env=child_env())
    if proc.returncode != 0:
        raise SystemExit(f"app child failed ({proc.returncode}): {proc.stdout[-500:]}"
                         f"{proc.stderr[-2000:]}")
    times = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "first_frame_s": times["first_frame"] - start,
        "first_preview_s": times["first_preview"] - start,
        "torch_at_first_frame": times["torch_at_first_frame"],
        "preview_label": times["preview_label"],
    }


def summary(values: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(values), 3), "min_s": round(min(values), 3),
            "max_s": round(max(values), 3)}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=7, help="launches of each (median, spread)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--child", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    python: list[float] = []
    torch_import: list[float] = []
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        launch(["-c", "import torch"])  # uncounted: files into the disk cache, bytecode written
        app_once(Path(tmp), -1)
        for i in range(max(1, args.repeat)):
            python.append(launch(["-c", "pass"])[0])
            torch_import.append(launch(["-c", "import torch"])[0])
            runs.append(app_once(Path(tmp), i))
    frame = [r["first_frame_s"] for r in runs]
    preview = [r["first_preview_s"] for r in runs]
    ratios = [f / t for f, t in zip(frame, torch_import, strict=True)]
    ratio = statistics.median(frame) / statistics.median(torch_import)
    version = launch(["-c", "import torch; print(torch.__version__)"])[1].strip()
    result: dict[str, Any] = {
        "machine": f"{cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"torch {version}",
        "repeat": len(runs),
        "python_start": summary(python),
        "torch_import": summary(torch_import),
        "first_frame": summary(frame),
        "first_preview": summary(preview),
        "ratio_first_frame_to_torch": round(ratio, 3),
        "ratio_spread": [round(min(ratios), 3), round(max(ratios), 3)],
        "torch_at_first_frame": any(r["torch_at_first_frame"] for r in runs),
        "target_ratio": TARGET_RATIO,
        "target_met": ratio <= TARGET_RATIO,
        "preview": runs[0]["preview_label"],
    }
    print(f"{len(runs)} launches each, interleaved; seconds from launch ({result['machine']})")
    print(f"{'':38} {'median':>8} {'min':>8} {'max':>8}")
    for name, key in (("python -c pass", "python_start"),
                      ('python -c "import torch"', "torch_import"),
                      ("lrtui: first frame (headless)", "first_frame"),
                      ("lrtui: first preview drawn", "first_preview")):
        s = result[key]
        print(f"{name:38} {s['median_s']:8.3f} {s['min_s']:8.3f} {s['max_s']:8.3f}")
    lo, hi = result["ratio_spread"]
    print(f"first frame / torch import: {ratio:.2f} (per launch {lo:.2f}-{hi:.2f}); target <= "
          f"{TARGET_RATIO}: {'met' if result['target_met'] else 'NOT met'}; torch imported "
          f"before the first frame: {'yes' if result['torch_at_first_frame'] else 'no'}")
    if args.json:
        sys.path.insert(0, str(ROOT))
        from lrtui.report import write_file

        write_file(Path(args.json), json.dumps(result, indent=2) + "\n")  # as lrtui writes
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
