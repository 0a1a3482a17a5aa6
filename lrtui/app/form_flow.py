"""The form's life in the app: debounced checks, the device line, torch loaded after the first
frame, the exact preview in a worker, and the form's config for the keys that train or sweep.

The first frame comes before torch: the form needs only the catalog's data. Once that frame is
drawn, a "torch" worker imports torch (seconds) with the engine and the run core, and the preview
worker starts; the preview appears when torch's scheduler has been stepped. Until torch is there
the device line (CUDA detection) shows "…" and the form is checked without stepping torch's
scheduler; then both checks run, and what they find shows as it always did. Keys that need torch
(r, a, b, t, f) wait for that worker (`after_torch`), so the UI thread never waits on an import.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from textual.timer import Timer
from textual.worker import get_current_worker

from lrtui import schedulers as S
from lrtui.app.form import FormResult, evaluate, field_label, format_number
from lrtui.app.messages import PreviewReady
from lrtui.app.threads import settle_gc
from lrtui.distributed import choice as ray_choice
from lrtui.model import RunConfig

if TYPE_CHECKING:
    from lrtui.app.app import LrtuiApp

#: The device line until torch has loaded and can say which devices this machine has.
DEVICE_PENDING = "…"


class FormFlow:
    """What the app does with its form, and the import of torch the form's checks wait for."""

    def __init__(self, app: LrtuiApp, *, debounce_s: float,
                 device_info: Callable[[str], tuple[str, bool]], own_device_info: bool,
                 injected_sizes: dict[str, int] | None) -> None:
        """Args: see LrtuiApp (`own_device_info`: device_info is the engine's, which needs
        torch)."""
        self.app = app
        self.debounce_s = debounce_s
        self.device_info = device_info
        self.own_device_info = own_device_info
        self.injected_sizes = injected_sizes
        self.form: FormResult | None = None
        # Whether torch is imported: else the "torch" worker imports it after the first frame.
        self.torch_loaded = "torch" in sys.modules
        self.timer: Timer | None = None  # the debounce of the last keystroke
        self._drawn = False  # the first frame is on screen
        self._preview_held = False  # the form's preview waits for the first frame
        self._pending_action: str | None = None  # a key's action waiting for torch

    @property
    def quiet(self) -> bool:
        """No keystroke waits for its check, and the preview is of the form as it is now."""
        return self.timer is None and self.app.session.previews.current

    # ------------------------------------------------------------------------------- checks

    def changed(self) -> None:
        """A field changed: check the form once typing pauses."""
        if self.timer is not None:
            self.timer.stop()
        if self.debounce_s <= 0:
            self.evaluate()
        else:
            self.timer = self.app.set_timer(self.debounce_s, self.evaluate)

    def evaluate(self, *, if_changed: bool = False) -> None:
        """Validate the form now and start its preview in a worker. Before torch has loaded, the
        checks that need it wait. `if_changed`: keep the form's result and its preview when this
        evaluation finds the same."""
        app = self.app
        self.timer = None
        values = app.sidebar.values()
        result = evaluate(values, injected_sizes=self.injected_sizes,
                          dry_run=None if self.torch_loaded else False)
        device_text, device_ok = self.device(values.device)
        if not device_ok:
            result = replace(result, config=None, errors={**result.errors, "device": device_text})
        unchanged = if_changed and result == self.form
        if not unchanged:
            self.form = result
            app.sidebar.show_result(result)
        self.update_device_line(device_text if device_ok else None)
        if unchanged:
            return
        token = app.session.previews.next()
        cfg = result.config
        self._preview_held = False
        if cfg is not None and result.steps_per_epoch and not result.too_long_to_preview:
            if self._drawn or self.torch_loaded:
                app.run_worker(
                    partial(self._preview, token, cfg, result.steps_per_epoch, result.defaults),
                    group="preview", exclusive=True, thread=True, exit_on_error=False,
                )  # fmt: skip
            else:  # its worker would import torch before the first frame
                self._preview_held = True
        else:
            # A newer form supersedes a preview still being computed: stop it now.
            app.workers.cancel_group(app, "preview")
            app.session.previews.none(f"no preview: {result.too_long_to_preview}"
                                      if result.too_long_to_preview else None)
            app.charts_changed()

    def device(self, choice: str) -> tuple[str, bool]:
        """`device_info(choice)`; the engine's own answers ("…", True) before torch has loaded."""
        needs_torch = ray_choice.address_of(choice) is None  # a Ray choice is said at once
        if self.own_device_info and needs_torch and not self.torch_loaded:
            return DEVICE_PENDING, True
        return self.device_info(choice)

    def update_device_line(self, text: str | None = None) -> None:
        sidebar = self.app.sidebar
        if text is None:
            text, ok = self.device(sidebar.values().device)
            if not ok:
                text = ""
        sidebar.set_device_line(f"→ {text}" if text else "")

    # ------------------------------------------------------------------------------- torch

    def first_frame_drawn(self) -> None:
        """Start what needs torch once the first frame is drawn: a thread importing torch before
        would hold that frame back (both want the one interpreter lock)."""
        self._drawn = True
        if not self.torch_loaded:
            device = self.app.sidebar.values().device
            self.app.run_worker(partial(self._load_torch, device), group="torch", thread=True,
                                exit_on_error=False)
        if self._preview_held and self.timer is None:
            self.evaluate()  # starts the preview held back

    def _load_torch(self, device: str) -> None:
        """Import torch off the UI thread (the "torch" worker), with what its first use imports
        (torch.optim's first optimizer pulls in torch._dynamo: seconds), then the engine and the
        run core, and ask the device line's question (CUDA detection; cached): the UI thread
        never waits on any of it."""
        S.preview(S.SchedulerSpec("ConstantLR", {}), epochs=1)  # torch.optim and lr_scheduler
        from lrtui import runner  # noqa: F401  (the engine, the data's tensors)

        self.device_info(device)

    def torch_ready(self) -> None:
        """torch is loaded: the form gets the checks that need it (the device line, the dry run
        of torch's scheduler); what they find shows, and the preview under way stays when they
        find nothing new. A key that waited for torch acts now."""
        self.torch_loaded = True
        if self.timer is None and not self._preview_held:
            self.evaluate(if_changed=True)
        settle_gc()  # torch's objects join the frozen ones (see settle_gc)
        pending, self._pending_action = self._pending_action, None
        if pending is not None:
            self.app.call_later(self.app.run_action, pending)

    def after_torch(self, action: str) -> bool:
        """True (and `action` kept for when torch is there) while the "torch" worker still
        loads it: an action that trains or checks with torch runs then, so the UI thread never
        waits seconds on an import (and Ctrl+C or q still act at once)."""
        if self.torch_loaded:
            return False
        self._pending_action = action
        self.app.log_pane.add("torch is still loading: that starts as soon as it is ready",
                              "notice")
        return True

    # ------------------------------------------------------------------------------- preview

    def _preview(self, token: int, config: RunConfig, steps_per_epoch: int,
                 defaults: dict[str, str]) -> None:
        """The form's exact schedule off the UI thread (`Previews.compute`, the "preview"
        worker), dropped when a newer form's preview or quitting cancels this worker."""
        worker = get_current_worker()
        app = self.app
        try:
            curve = app.session.previews.compute(config, steps_per_epoch, defaults,
                                                 lambda: worker.is_cancelled)
        except Exception as exc:  # a spec validate() let through but torch refuses
            app.post_message(PreviewReady(token, None, f"{type(exc).__name__}: {exc}"))
            return
        if curve is not None and not worker.is_cancelled:
            app.post_message(PreviewReady(token, curve))

    def preview_ready(self, message: PreviewReady) -> None:
        app = self.app
        if not app.session.previews.arrived(message.token, message.curve):
            return  # the form changed since
        if message.error:
            app.log_pane.add(f"preview: {message.error}", "error")
        app.redraw_charts(urgent=True)

    # ------------------------------------------------------------------------------- for keys

    def config(self) -> RunConfig | None:
        """The form's config, checked now, or None after saying why (log + focus on the first
        bad field)."""
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        self.evaluate()
        form = self.form
        if form is None or not form.ok or form.config is None:
            self.say_problem(form.errors if form is not None else {}, "cannot run")
            return None
        return form.config

    @property
    def seeds(self) -> int:
        """The form's number of seeds (valid whenever the form gave a config)."""
        return self.form.seeds if self.form is not None else 1

    @property
    def ray(self) -> str | None:
        """Where the form's device choice trains: the Ray address of `ray:...`, None: here."""
        return self.form.ray if self.form is not None and self.form.ok else None

    def range_config(self) -> RunConfig | None:
        """The form's model, data and optimizer for a range test, or None after saying why.

        Only the fields the sweep uses must be valid (dataset, hidden, optimizer, batch size,
        seed, device): the LR, epochs and scheduler are the sweep's own, so a half-typed
        schedule does not stand in the way of finding its LR."""
        values = self.app.sidebar.values()
        probe = replace(values, lr="0.1", epochs="1", scheduler="ConstantLR", params={},
                        spec_text="", warmup="0", warmup_start="0.1", label="")
        result = evaluate(probe, injected_sizes=self.injected_sizes)
        errors = dict(result.errors)
        device_text, device_ok = self.device(values.device)
        if not device_ok:
            errors["device"] = device_text
        if errors or result.config is None:
            self.say_problem(errors, "cannot find LR")
            return None
        return result.config

    def say_problem(self, errors: dict[str, str], prefix: str) -> None:
        """Log the first problem in the form's own top-to-bottom order and focus its field."""
        log_pane, sidebar = self.app.log_pane, self.app.sidebar
        if not errors:
            log_pane.add(f"{prefix}: the form is not ready", "error")
            return
        order = list(sidebar.widgets)
        key = min(errors, key=lambda k: order.index(k) if k in order else len(order))
        n = len(errors)
        more = f" (and {n - 1} more)" if n > 1 else ""
        log_pane.add(f"{prefix}: {field_label(key)}: {errors[key]}{more}", "error")
        target = sidebar.widgets.get(key)
        if target is not None and sidebar.display:
            target.focus()

    @property
    def scheduler_name(self) -> str:
        return self.app.sidebar.values().scheduler

    async def put_lr(self, key: str, value: float, *, switch_to: str | None = None,
                     source: str = "") -> str:
        """Fill one LR field of the form (after switching the scheduler if asked): the form
        re-evaluates and its preview redraws as after any edit."""
        sidebar = self.app.sidebar
        text = format_number(value)
        if switch_to is not None:
            await sidebar.switch_scheduler(switch_to, {key.removeprefix("param:"): text})
        elif not sidebar.set_text(key, text):
            return f"not applied: the form has no field {key}"
        name = {"lr": "base LR"}.get(key, key.removeprefix("param:"))
        owner = "" if key == "lr" else f"{switch_to or self.scheduler_name} "
        line = f"form: {owner}{name} ← {text}" + (f" (range test: {source})" if source else "")
        self.app.log_pane.add(line, "notice")
        return line
