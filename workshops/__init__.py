"""The workshops application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from workshops import config, extensions
from workshops.audit import cli as audit_cli
from workshops.audit import models as audit_models  # noqa: F401 (the journal's table)
from workshops.audit import views as audit_views
from workshops.auth import cli as auth_cli
from workshops.auth import views as auth_views
from workshops.backup import cli as backup_cli
from workshops.backup import startup as backup_startup
from workshops.core import cli as core_cli
from workshops.core import db as core_db
from workshops.core import errors, i18n, launcher, logs, security
from workshops.core import views as core_views
from workshops.equipment import cli as equipment_cli
from workshops.equipment import handover_views
from workshops.equipment import import_views as equipment_import_views
from workshops.equipment import views as equipment_views
from workshops.families import cli as families_cli
from workshops.families import import_views, registration_views
from workshops.families import views as families_views
from workshops.help import views as help_views
from workshops.printing import cli as printing_cli
from workshops.printing import views as printing_views
from workshops.privacy import cli as privacy_cli
from workshops.privacy import jobs as privacy_jobs
from workshops.privacy import views as privacy_views
from workshops.reports import cli as reports_cli
from workshops.reports import views as reports_views
from workshops.resources import views as resources_views
from workshops.scheduling import views as scheduling_views
from workshops.seed import cli as seed_cli
from workshops.sync import api as sync_api
from workshops.sync import cli as sync_cli
from workshops.sync import (
    hub_views,
    tracking_services,  # noqa: F401 (registers the change-tracking listeners)
)
from workshops.sync import views as sync_views

ROOT = Path(__file__).resolve().parent.parent
BLUEPRINTS = (core_views.bp, auth_views.bp, audit_views.bp, resources_views.bp, scheduling_views.bp,
              families_views.bp, import_views.bp, registration_views.bp, equipment_views.bp,
              equipment_import_views.bp, handover_views.bp, printing_views.bp, reports_views.bp,
              privacy_views.bp, help_views.bp)
# Pages only one role has: the laptop's sync page; the hub's devices, conflicts and sync API.
ROLE_BLUEPRINTS = {"laptop": (sync_views.bp,), "hub": (hub_views.bp, sync_api.bp)}


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, error pages, commands.

    Makes no network call, asks nothing and changes no schema.
    """
    app = Flask(
        __name__,
        # A laptop may keep its data elsewhere (an encrypted home folder, say).
        instance_path=os.environ.get("WORKSHOPS_INSTANCE_PATH", str(ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    config.load_config(app, test_config)
    logs.init_app(app)
    core_db.configure_engine_options(app)

    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(core_db.MIGRATIONS_DIR))
    extensions.babel.init_app(app, locale_selector=i18n.select_locale,
                              default_translation_directories=str(ROOT / "translations"))
    extensions.csrf.init_app(app)

    # Order matters: the start checks (a damaged database makes the app read-only) come
    # first; the database gate begins write transactions before the login check reads
    # the session row.
    backup_startup.init_app(app)
    # Run with the daily backup (laptops); a hub runs `flask privacy purge` from cron (docs/hub.md).
    app.extensions.setdefault("daily_jobs", []).append(privacy_jobs.run_daily_retention)
    core_db.init_app(app, extensions.db)
    security.init_app(app, load_user=auth_views.load_user)
    errors.init_app(app)
    core_views.init_app(app)
    for blueprint in BLUEPRINTS + ROLE_BLUEPRINTS[app.config["ROLE"]]:
        app.register_blueprint(blueprint)

    i18n.init_app(app)
    core_cli.init_app(app)
    app.cli.add_command(launcher.launcher)
    app.cli.add_command(audit_cli.audit)
    app.cli.add_command(auth_cli.users)
    app.cli.add_command(families_cli.families)
    app.cli.add_command(equipment_cli.equipment)
    app.cli.add_command(seed_cli.seed)
    app.cli.add_command(sync_cli.sync)
    app.cli.add_command(reports_cli.reports)
    app.cli.add_command(backup_cli.backup)
    printing_cli.init_app(app)
    app.cli.add_command(privacy_cli.privacy)
    return app
