"""The command palette provider: every action of the key table, by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from lrtui.app.keys import ACTIONS, KeyAction


def _palette_actions() -> list[KeyAction]:
    seen: set[str] = set()
    out: list[KeyAction] = []
    for a in ACTIONS:
        if a.palette and a.action not in seen:
            seen.add(a.action)
            out.append(a)
    return out


class LrtuiCommands(Provider):
    """Each action as 'Title (key)' with its help line; choosing one runs what the key runs."""

    def _label(self, a: KeyAction) -> str:
        return f"{a.title} ({a.display_key or a.key})"

    async def _run(self, a: KeyAction) -> None:
        # The main screen's actions run there (its runs table), the others on the App.
        target = getattr(self.app, "main", None) if a.scope == "main" else None
        await self.app.run_action(a.action, default_namespace=target)

    async def discover(self) -> Hits:
        for a in _palette_actions():
            yield DiscoveryHit(self._label(a), partial(self._run, a), help=a.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for a in _palette_actions():
            text = f"{self._label(a)} {a.help}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(self._label(a)), partial(self._run, a),
                          text=self._label(a), help=a.help)
