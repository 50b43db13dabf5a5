"""Panels of the atelier page: the parts that later features add to it.

The atelier page is the centre of the day, but scheduling comes before the
features that fill it (families: roster, check-in and counters; then
equipment, printing), and may not import them. So each of those registers a
provider when its views module is imported:

    register_panel(roster_panel)   # def roster_panel(workshop, user) -> Panel | None

The page then includes every panel's template, in `order`, with the panel's
context as `ctx` (and the page's own variables: `workshop`...). A provider
returns None to show nothing (a feature that does not apply, a role that may
not see it). Providers read only; they never write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

from workshops.auth.models import User
from workshops.scheduling.models import Workshop


@dataclass(frozen=True)
class Panel:
    """One part of the atelier page: a template path, what it shows, and where
    it goes (lower first; the roster is about 10, printing about 90)."""

    template: str
    context: dict
    order: int = 100


PanelProvider = Callable[[Workshop, User], Panel | None]

# Registered providers, in registration order (which breaks ties of `order`).
_providers: list[PanelProvider] = []


def register_panel(provider: PanelProvider) -> PanelProvider:
    """Add a provider (once, however often it is registered); usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def unregister_panel(provider: PanelProvider) -> None:
    """Remove a provider; nothing happens when it was not registered (tests' teardown)."""
    if provider in _providers:
        _providers.remove(provider)


def panels_for(workshop: Workshop, user: User) -> list[Panel]:
    """The panels to show on this atelier's page for this user, by order."""
    panels = [panel for panel in (provider(workshop, user) for provider in _providers)
              if panel is not None]
    return sorted(panels, key=attrgetter("order"))
