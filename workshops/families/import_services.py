"""Writes of an import: the column mapping remembered for a file layout, the uploaded file
kept between the steps, and the confirmed rows written in one flush.

Services flush, never commit: the view or the command commits once, so an error on any
row leaves nothing written.

The uploaded file waits on disk between the steps (upload, columns, preview, confirm)
rather than being sent again: a 2 MB file sent three times over a weak connection is
slow, and the preview must be the very file that is confirmed. It is stored as
`<folder>/<token>.bin` with a `<token>.json` note of who sent it and what they chose,
under a random token (never a name from the user), readable only by the app, and
removed after the confirmation or after PENDING_MAX_AGE.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workshops.audit.services import record
from workshops.auth.models import Structure
from workshops.core.errors import ValidationFailed
from workshops.families import queries, registration_services
from workshops.families import services as family_services
from workshops.families.consent_services import record_new_households_consents
from workshops.families.import_rows import FamilyImport
from workshops.families.importers import Preview, headers_hash
from workshops.families.models import ImportMapping, Registration
from workshops.scheduling.models import Workshop

PENDING_MAX_AGE_SECONDS = 24 * 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")


# ---------- Remembered mappings ----------

def remember_mapping(db: Session, kind: str, headers: Sequence[str],
                     mapping: Mapping[str, int]) -> ImportMapping:
    """Keep `mapping` (field -> column index) for the next file with these headers,
    replacing the one kept before. Raises nothing."""
    digest = headers_hash(headers)
    row = db.scalar(select(ImportMapping).where(ImportMapping.kind == kind,
                                                ImportMapping.headers_hash == digest))
    if row is None:
        row = ImportMapping(kind=kind, headers_hash=digest)
        db.add(row)
    row.mapping = {key: int(column) for key, column in mapping.items()}
    db.flush()
    return row


# ---------- The uploaded file between the steps ----------

@dataclass(frozen=True)
class PendingUpload:
    """An uploaded file waiting for its confirmation, with what was chosen so far."""

    token: str
    data: bytes
    meta: dict[str, Any]


def store_upload(folder: Path, data: bytes, meta: Mapping[str, Any]) -> str:
    """Keep the file and its note; returns the token naming them. Old files are removed
    on the way. Raises OSError when the folder cannot be written."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    purge_uploads(folder)
    token = secrets.token_urlsafe(24)
    _write_private(folder / f"{token}.bin", data)
    _write_private(folder / f"{token}.json", json.dumps(dict(meta)).encode())
    return token


def load_upload(folder: Path, token: str | None, user_id: uuid.UUID) -> PendingUpload | None:
    """The pending file of this token if `user_id` sent it and it is not too old; None
    otherwise (unknown, malformed, someone else's, expired). Raises nothing."""
    if not token or not _TOKEN.fullmatch(token):
        return None
    paths = folder / f"{token}.bin", folder / f"{token}.json"
    try:
        if time.time() - paths[0].stat().st_mtime > PENDING_MAX_AGE_SECONDS:
            return None
        meta = json.loads(paths[1].read_text(encoding="utf-8"))
        data = paths[0].read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("user_id") != str(user_id):
        return None
    return PendingUpload(token, data, meta)


def update_upload(folder: Path, pending: PendingUpload, changes: Mapping[str, Any]) -> PendingUpload:
    """Record a choice (the columns, say) in the note of a pending file. Raises OSError."""
    meta = {**pending.meta, **changes}
    _write_private(folder / f"{pending.token}.json", json.dumps(meta).encode())
    return PendingUpload(pending.token, pending.data, meta)


def discard_upload(folder: Path, token: str) -> None:
    """Remove a pending file and its note (done after the confirmation). Raises nothing."""
    if _TOKEN.fullmatch(token or ""):
        for suffix in (".bin", ".json"):
            (folder / f"{token}{suffix}").unlink(missing_ok=True)


def purge_uploads(folder: Path, *, now: float | None = None) -> int:
    """Remove pending files older than PENDING_MAX_AGE_SECONDS; returns how many files
    went. Raises nothing."""
    now = time.time() if now is None else now
    removed = 0
    for path in folder.glob("*.*"):
        try:
            if path.suffix in (".bin", ".json") and now - path.stat().st_mtime > PENDING_MAX_AGE_SECONDS:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


# ---------- Confirmation ----------

def places_left(db: Session, workshop: Workshop) -> int | None:
    """Free places at the atelier (registered and attended families take one); None
    when it has no capacity. Raises nothing."""
    if workshop.capacity is None:
        return None
    taken = db.scalar(select(func.count()).select_from(Registration).where(
        Registration.workshop_id == workshop.id, Registration.deleted_dt.is_(None),
        Registration.status.in_(registration_services.PLACE_STATUSES))) or 0
    return workshop.capacity - taken


def would_overbook(db: Session, options: FamilyImport, count: int) -> bool:
    """True when registering `count` more families (as registered) would go over the
    atelier's capacity. Raises nothing."""
    if options.workshop is None or options.status not in registration_services.PLACE_STATUSES:
        return False
    left = places_left(db, options.workshop)
    return left is not None and count > left


@dataclass(frozen=True)
class ImportResult:
    """What a confirmed import wrote."""

    written: int
    registered: int
    skipped: int
    family_ids: tuple[uuid.UUID, ...]


def confirm_family_import(db: Session, preview: Preview, options: FamilyImport, *,
                          included_warnings: Collection[int] | None = None,
                          allow_overbooking: bool = False) -> ImportResult:
    """Create the households of the ok rows and of the warned rows included (all when
    None), origin "college_list", and register each to the atelier when one is given.
    Refused rows are never written. Records one "import" entry in the audit journal (counts
    only), after one `consent_changed` entry per consent a row gave. Flushes only: the caller
    commits once.

    Raises ValidationFailed when the atelier would go over capacity without over-booking
    allowed (nothing written) or when a row is refused on writing (with its line);
    NotAllowed when the actor may not create families in the structure or use the
    atelier; anything raised leaves the session to be rolled back.
    """
    rows = preview.to_write(included_warnings)
    if not allow_overbooking and would_overbook(db, options, len(rows)):
        raise ValidationFailed([("allow_overbooking", _l(
            "The atelier has %(left)s places left for %(count)s families: allow over-booking, "
            "or untick some rows.", left=max(places_left(db, options.workshop) or 0, 0), count=len(rows)))])
    # Each household checks its structure and collèges: hold them, or the session's
    # identity map (weak references) forgets them and every row reads them again.
    structure_id = options.structure_id or options.actor.structure_id
    held = [*queries.list_colleges(db), db.get(Structure, structure_id) if structure_id else None]
    # The households are flushed together at the end, not one by one (registering to the
    # atelier flushes its own rows, the household's with them).
    families, registered = [], 0
    with db.no_autoflush:
        for row in rows:
            try:
                family = family_services.create_family(db, row.data, options.actor, lenient=True,
                                                       flush=False)
                if options.workshop is not None:
                    registration_services.register_family(
                        db, options.workshop, family, options.actor, status=options.status,
                        allow_overbooking=allow_overbooking)
                    registered += 1
            except ValidationFailed as error:
                raise ValidationFailed([(None, _l("Line %(line)s: %(reason)s", line=row.line,
                                                  reason=message))
                                        for _field, message in error.reasons]) from error
            families.append(family)
    db.flush()
    del held
    # The consents the collège's list gave, one journal entry each (no notice version yet).
    record_new_households_consents(db, families, options.actor, "import")
    family_ids = [family.id for family in families]
    done = ImportResult(len(family_ids), registered, len(preview.rows) - len(family_ids), tuple(family_ids))
    record(db, "import", actor_id=options.actor.id, object_type="families",
           object_ref=str(structure_id or ""), details={
               "created": done.written, "registered": done.registered, "skipped": done.skipped,
               "workshop": str(options.workshop.id) if options.workshop is not None else None})
    return done

