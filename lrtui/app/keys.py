"""Every key and action of the app in one table: the bindings, the help screen and the command
palette are all generated from it, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class KeyAction:
    """One user action: its key(s), the App action it runs, and how it is described."""

    key: str  # Textual key name(s), comma separated
    action: str  # App action name (without "action_")
    title: str  # short name for the footer and the palette
    help: str  # one line for the help screen and the palette
    show: bool = True  # shown in the footer
    display_key: str = ""  # how the help screen writes the key (default: the key)
    palette: bool = True  # listed in the command palette
    bind: bool = True  # False where a widget owns the key (enter belongs to the runs table)
    listed: bool = True  # on the help screen (an alias already shown with its twin is not)
    priority: bool = False  # wins over a focused widget's own binding of the key
    scope: str = "app"  # "main": the main screen's (its runs table's row actions), not the App's


ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("r", "run_form", "Run", "train the form's configuration now"),
    KeyAction("a", "add_to_batch", "Add", "add the form's configuration to the batch"),
    KeyAction("b", "run_batch", "Batch", "train every configuration in the batch together"),
    KeyAction("s", "stop", "Stop", "stop the training (within one step) or the range test"),
    KeyAction("p", "pause", "Pause", "pause or resume the current training"),
    KeyAction("g", "pick_scheduler", "Scheduler", "jump to the scheduler list (enter opens it)",
              show=False),
    KeyAction("t", "tutorial", "Tutorial",
              "train the tutorial's four schedulers, a few seeds each", show=False),
    KeyAction("l", "toggle_log", "Log-Y", "switch the LR chart between linear and log scale"),
    KeyAction("space", "toggle_run", "Show",
              "show or hide the highlighted run or group on the charts", show=False,
              display_key="space", scope="main"),
    KeyAction("enter", "details", "Details",
              "open the highlighted run's details (a group: its seeds)",
              show=False, bind=False, scope="main"),
    KeyAction("plus", "expand_group", "Expand group",
              "list the highlighted group's seeds, one row each", show=False,
              display_key="+", scope="main"),
    KeyAction("minus", "collapse_group", "Collapse group",
              "fold the highlighted group's seeds back into one line", show=False,
              display_key="-", scope="main"),
    KeyAction("c", "clone", "Clone", "copy the highlighted run's configuration into the form",
              show=False, scope="main"),
    KeyAction("e", "export", "Export", "export the highlighted run to CSV", show=False,
              scope="main"),
    KeyAction("d", "delete", "Delete", "delete the highlighted run or group (asks first)",
              show=False, scope="main"),
    KeyAction("v", "compare", "Compare",
              "compare the highlighted run's groups (seeds, sweep points)", show=False,
              scope="main"),
    KeyAction("R", "refresh", "Refresh",
              "read the run history again now (other lrtui processes' runs appear by themselves "
              "within a second or two)", show=False, display_key="R (shift+r)"),
    KeyAction("o", "sort", "Sort", "sort the runs table by the next column", show=False,
              scope="main"),
    KeyAction("x", "clear_batch", "Clear batch", "empty the batch", show=False),
    KeyAction("X", "drop_from_batch", "Drop from batch",
              "take the last configuration added back out of the batch", show=False,
              display_key="X (shift+x)"),
    KeyAction("f", "find_lr", "Find LR",
              "LR range test, then put the LR you pick into the form", show=False),
    KeyAction("ctrl+b", "toggle_sidebar", "Form", "hide or show the form (sidebar)",
              display_key="ctrl+b / h"),
    KeyAction("h", "toggle_sidebar", "Form", "hide or show the form", show=False, palette=False,
              listed=False),
    KeyAction("escape", "leave_form", "Leave form", "leave a text field so letter keys act",
              show=False, palette=False, display_key="esc"),
    KeyAction("question_mark", "help", "Help", "show every key", display_key="?"),
    KeyAction("q", "quit_app", "Quit", "quit (asks when a run is active)"),
    # ctrl+c quits from anywhere, also from a text field (where Textual would copy), and at once.
    KeyAction("ctrl+c", "quit", "Quit now", "quit at once (a running training is stopped)",
              show=False, palette=False, display_key="ctrl+c / ctrl+q", priority=True),
)

# Keys owned by other widgets that the help screen lists too.
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("ctrl+p", "command palette: every action by name"),
    ("tab / shift+tab", "move between fields, charts and the runs table"),
    ("up / down", "move in the runs table; open a Select's list"),
)


def bindings(scope: str = "app") -> list[Binding]:
    """The BINDINGS of the App ("app") or of the main screen ("main"), from ACTIONS."""
    return [Binding(a.key, a.action, a.title, show=a.show, priority=a.priority)
            for a in ACTIONS if a.bind and a.scope == scope]
