"""Panels of the family page: the parts that later features add to it.

Families come before equipment (and printing, reports) and may not import them, so
each of those registers a provider when its views module is imported:

    register_family_panel(equipment_panel)   # def equipment_panel(family, user) -> Panel | None

The family page then includes every panel's template, in `order`, with the panel's context
as `ctx` (and the page's own variables: `family`...). A provider returns None to show
nothing. Providers read only; they never write.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter

from workshops.auth.models import User
from workshops.families.models import Family
from workshops.scheduling.panels import Panel

FamilyPanelProvider = Callable[[Family, User], Panel | None]

# Registered providers, in registration order (which breaks ties of `order`).
_providers: list[FamilyPanelProvider] = []


def register_family_panel(provider: FamilyPanelProvider) -> FamilyPanelProvider:
    """Add a provider (once, however often it is registered); usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def unregister_family_panel(provider: FamilyPanelProvider) -> None:
    """Remove a provider; nothing happens when it was not registered (tests' teardown)."""
    if provider in _providers:
        _providers.remove(provider)


def family_panels_for(family: Family, user: User) -> list[Panel]:
    """The panels to show on this family's page for this user, by order."""
    panels = [panel for panel in (provider(family, user) for provider in _providers)
              if panel is not None]
    return sorted(panels, key=attrgetter("order"))
