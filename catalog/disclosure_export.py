"""The disclosure catalogue (信息公开目录) as an open dataset: 县政府办's 政府信息公开目录, whose CSV
resource is regenerated from the published disclosures when they change.

Its rows are what the county-wide `/@@xxgk` shows the public, in the same words: 发布机构 is the
document's publisher, 有效性 its validity, the dates as the page prints them (China time), and the
URL the item's public address (`catalog.portal_url`, else the address of the request that
regenerates). The file is UTF-8 with a byte-order mark, so Excel opens it in the right encoding.

Changes are recorded, not acted on: a change of a disclosure, or a transition, move or removal of
a container holding some (a unit retracted), appends a row to `disclosure_export_changes` in the
change's own transaction (so a rolled-back change leaves none). Rows are only ever inserted, so
concurrent editors never wait on each other for it (one "dirty" row updated by every change would
queue every disclosure save of the county on PostgreSQL). Regeneration is debounced: it happens
when changes are waiting and the last generation is at least `catalog.disclosure_export_delay`
seconds (default 300) old -- a reviewer approving a queue of 30 documents rebuilds the file once
or twice, not 30 times, and each rebuild of 100,000 rows takes seconds. The regenerator locks the
`disclosure_exports` row, deletes the change rows it has seen and reads the disclosures after
that, so a change committed meanwhile leaves its own row for the next run and is never lost.
A CSV equal to the stored one (same SHA-256) is not saved: no revision, no CKAN update.

Who regenerates: the web process after the commit of a change (when due, else a timer waits for
the delay; `catalog.send_after_commit`, like the CKAN sender), the CKAN worker's loop and
`ckan-sync` (`regenerate_if_due`), and `portal -c INI disclosure-export [--force]`. Effective and
expiry dates passing change the public list with no event: `due` sees them too.

The new file is saved through `portal.content`, so a revision is kept and `ObjectModified` tells
the CKAN outbox, which republishes the dataset as it does any other.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import logging
import threading
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlsplit

from sqlalchemy import DateTime, ForeignKey, Integer, String, and_, delete, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from content_types.disclosure import Disclosure
from portal import content, events
from portal.accounts import AccountError, find_unit
from portal.api.fields import deserialize
from portal.models import Base, Node, Unit
from portal.models.node import utcnow
from portal.registry import type_info
from portal.schemas import to_local
from portal.slugs import free_name
from portal.uploads import FILE_TYPES
from portal.visibility import public_now

from . import vocabularies as v
from .dataset import Dataset
from .resource import Resource
from .settings import catalog_settings

log = logging.getLogger(__name__)

EXPORT = "xxgkml"  # the export's key, and the dataset's URL name in the office's site
OFFICE = "县政府办"  # title or short name of the unit that publishes the catalogue (portal/data/units.csv)
FILENAME = "政府信息公开目录.csv"
HEADER = ("索引号", "标题", "发布机构", "文号", "主题分类", "成文日期", "发布日期", "有效性", "URL")
BATCH = 2000  # rows fetched from the database at a time
COMMENT = "信息公开目录变化后自动生成"
DATASET = {
    "title": "政府信息公开目录",
    "description": "黄梅县人民政府门户网站政府信息公开目录中全部公开的政府信息（县直部门和乡镇），每条列出"
                   "索引号、标题、发布机构、文号、主题分类、成文日期、发布日期、有效性和网址，与网站上的"
                   "“政府信息公开目录”一致。目录有变化时自动重新生成。",
    "theme": "政府规范性文件", "keywords": ["政府信息公开", "信息公开目录", "政策文件"],
    "license": v.DEFAULT_LICENCE, "open_class": v.OPEN, "update_frequency": "实时", "spatial": v.DEFAULT_SPATIAL,
}
RESOURCE_DESCRIPTION = "CSV，UTF-8 编码（带 BOM，Excel 可直接打开），按发布日期从新到旧排列；由网站自动生成。"


class DisclosureExport(Base):
    """The export's state: its dataset and resource, and when it was last generated."""

    __tablename__ = "disclosure_exports"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"))
    generated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class DisclosureChange(Base):
    """A transaction that may have changed the public catalogue; deleted by the regeneration that read it."""

    __tablename__ = "disclosure_export_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# -- settings (catalog.settings) ------------------------------------------------------------------

def export_delay(registry: Any) -> int:
    """`catalog.disclosure_export_delay`: seconds between regenerations (0: after every change)."""
    return catalog_settings(registry).disclosure_export_delay


def after_commit_enabled(registry: Any) -> bool:
    """Regenerate in the web process after a change (development); production leaves it to the worker."""
    return catalog_settings(registry).send_after_commit


def configured_base(registry: Any) -> str:
    """`catalog.portal_url`, the portal's public address ("" when not set)."""
    return catalog_settings(registry).portal_url


def public_base(request: Any) -> str:
    """What the URLs of the CSV start with: the configured public address, else this request's
    (a command's is http://127.0.0.1:6543, so production sets `catalog.portal_url`)."""
    return configured_base(request.registry) or request.application_url.rstrip("/")


# -- the CSV ----------------------------------------------------------------------------------

def local_date(value: dt.datetime | dt.date | None) -> str:
    """As /@@xxgk prints it: a stored (naive UTC) time as its date in China, a date as it is."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value).date()
    return value.strftime("%Y-%m-%d")


def rows(request: Any, now: dt.datetime | None = None) -> Iterator[tuple[str, ...]]:
    """The rows of what the public sees now, newest first; read in batches, as columns (no ORM
    objects: 100,000 documents never sit in memory at once)."""
    base = public_base(request)
    query = (select(Disclosure.index_number, Disclosure.title, Disclosure.publisher, Disclosure.doc_number,
                    Disclosure.subject, Disclosure.written_date, Disclosure.published, Disclosure.validity,
                    Disclosure.path)
             .where(*public_now(now))
             .order_by(Disclosure.published.desc(), Disclosure.index_number, Disclosure.id)
             .execution_options(yield_per=BATCH))
    for index, title, publisher, number, subject, written, published, validity, path in \
            request.dbsession.execute(query):
        yield (index or "", title, publisher, number, subject, local_date(written), local_date(published), validity,
               base + path)


def _build(request: Any, now: dt.datetime | None = None) -> tuple[bytes, int]:
    """The file and its number of documents; encoded as it is written (one copy in memory)."""
    buffer = io.BytesIO()
    out = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")  # utf-8-sig: the BOM first
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    count = 0
    for row in rows(request, now):
        writer.writerow(row)
        count += 1
    out.flush()
    return buffer.getvalue(), count


def build_csv(request: Any, now: dt.datetime | None = None) -> bytes:
    """The catalogue as CSV: UTF-8 with a BOM, the header row, one row per public document."""
    return _build(request, now)[0]


# -- the dataset ------------------------------------------------------------------------------

def office(dbsession: Any) -> Unit | None:
    try:
        return find_unit(dbsession, OFFICE)
    except AccountError:
        return None


def export_row(dbsession: Any, lock: bool = False) -> DisclosureExport | None:
    """The export's row; `lock`: held until the transaction ends, so regenerations take turns."""
    query = select(DisclosureExport).where(DisclosureExport.name == EXPORT)
    if lock:
        query = query.with_for_update()
    return dbsession.scalar(query)


def stored_file(request: Any, data: bytes) -> dict[str, Any]:
    """The blob reference of `data` as a Resource's `file` (as portal.uploads makes one)."""
    digest, size, _created = request.blobs.put(data)
    return {"hash": digest, "filename": FILENAME, "content_type": FILE_TYPES["csv"], "size": size}


def publish(request: Any, node: Node) -> None:
    if node.state != "published":
        content.set_state(request, node, "published", "publish", COMMENT)


def ensure_dataset(request: Any) -> Dataset | None:
    """The dataset and its CSV resource, made (published, the CSV generated) when missing; None
    without the office's unit. Idempotent: what exists is left as it is (a retracted dataset
    stays retracted). System set-up, so `unrestricted`."""
    dbsession = request.dbsession
    row = export_row(dbsession, lock=True)
    dataset = dbsession.get(Dataset, row.dataset_id) if row is not None and row.dataset_id else None
    resource = dbsession.get(Resource, row.resource_id) if row is not None and row.resource_id else None
    if dataset is None:
        unit = office(dbsession)
        if unit is None:
            return None
        found = unit.get(EXPORT)
        if isinstance(found, Dataset):
            dataset = found
        else:
            fields = deserialize(request, type_info(request.registry, "Dataset"), DATASET)
            name = EXPORT if found is None else free_name(unit, EXPORT)
            dataset = content.create(request, unit, "Dataset", fields, name=name, unrestricted=True)
            publish(request, dataset)
    if resource is None or resource.parent_id != dataset.id:
        resource = next((r for r in dataset.values() if isinstance(r, Resource) and r.file
                         and r.file.get("filename") == FILENAME), None)
    if row is None:
        row = DisclosureExport(name=EXPORT)
        dbsession.add(row)
    row.dataset_id = dataset.id
    if resource is None:
        now = utcnow()
        data, _count = _build(request, now)
        resource = content.create(request, dataset, "Resource", {
            "title": FILENAME, "description": RESOURCE_DESCRIPTION, "file": stored_file(request, data)},
            unrestricted=True)
        publish(request, resource)
        read_changes(request, row, now)
    row.resource_id = resource.id
    dbsession.flush()
    return dataset


# -- regeneration ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    changed: bool
    rows: int
    reason: str = ""  # why nothing was generated


def replace_file(request: Any, resource: Resource, file: dict[str, Any]) -> None:
    """Save the new file through the one write path (revision, ObjectModified), as set-up code.

    `content.save` keeps the change of a published item as a draft for whoever is no reviewer,
    `unrestricted` or not; the system's change is then approved at once (`publish` of a pending
    change). A change an editor has waiting is put aside meanwhile, kept with the new file, so
    this approves nothing of theirs and their later approval does not bring the old file back."""
    waiting = (resource.draft, resource.draft_by, resource.draft_at)
    resource.draft = resource.draft_by = resource.draft_at = None
    if content.save(request, resource, {"file": file}, unrestricted=True) == "draft":
        content.transition(request, resource, "publish", COMMENT, unrestricted=True)
    if waiting[0] is not None:
        resource.draft = {**waiting[0], "file": file}
        resource.draft_by, resource.draft_at = waiting[1], waiting[2]


def read_changes(request: Any, row: DisclosureExport, now: dt.datetime) -> None:
    """The CSV about to be built from what is public at `now` covers the changes recorded so far
    (a change committed meanwhile, invisible here, keeps its row for the next run)."""
    request.dbsession.execute(delete(DisclosureChange).where(DisclosureChange.created <= now))
    request._disclosure_export_change = None  # a later change of this transaction is recorded again
    row.generated_at = now


def _generate(request: Any, row: DisclosureExport, now: dt.datetime) -> Outcome:
    """With the export row locked: forget the changes seen so far, then build from what they left."""
    dbsession = request.dbsession
    read_changes(request, row, now)
    resource = dbsession.get(Resource, row.resource_id) if row.resource_id else None
    if resource is None:
        log.warning("the disclosure catalogue's CSV resource is gone; `portal disclosure-export` makes it again")
        return Outcome(False, 0, "no resource (run `portal disclosure-export`)")
    data, count = _build(request, now)
    current = resource.file if isinstance(resource.file, dict) else {}
    if current.get("hash") == hashlib.sha256(data).hexdigest():
        return Outcome(False, count)
    replace_file(request, resource, stored_file(request, data))
    return Outcome(True, count)


def regenerate(request: Any, now: dt.datetime | None = None) -> bool:
    """Build the CSV now, in this request's transaction, and save it if it differs from the
    stored one (the dataset is made first if missing); returns whether a new file was saved."""
    if ensure_dataset(request) is None:
        return False
    return _generate(request, export_row(request.dbsession, lock=True), now or utcnow()).changed


def waiting(dbsession: Any, row: DisclosureExport, now: dt.datetime) -> bool:
    """Whether the CSV may be out of date: a change not yet read, or an effective or expiry date
    passed since the last generation (which changes the public list with no event)."""
    if row.generated_at is None or dbsession.scalar(select(DisclosureChange.id).limit(1)) is not None:
        return True
    since = row.generated_at
    return dbsession.scalar(select(Disclosure.id).where(or_(
        and_(Disclosure.effective > since, Disclosure.effective <= now),
        and_(Disclosure.expires > since, Disclosure.expires <= now))).limit(1)) is not None


def due_in(dbsession: Any, delay: int, now: dt.datetime, row: DisclosureExport | None = None) -> float | None:
    """Seconds until a regeneration is due (0: now; None: nothing to do, or no dataset)."""
    row = row if row is not None else export_row(dbsession)
    if row is None or not waiting(dbsession, row, now):
        return None
    if row.generated_at is None:
        return 0.0
    return max(0.0, (row.generated_at + dt.timedelta(seconds=delay) - now).total_seconds())


def regenerate_when_due(request: Any, now: dt.datetime | None = None, delay: int | None = None,
                        force: bool = False) -> Outcome:
    """In this request's transaction: regenerate if changes wait and the delay has passed since
    the last generation (`force`: now, whatever waits)."""
    now = now or utcnow()
    delay = export_delay(request.registry) if delay is None else delay
    row = export_row(request.dbsession, lock=True)
    if row is None:
        return Outcome(False, 0, "no dataset (run `portal disclosure-export`)")
    if not force:
        wait = due_in(request.dbsession, delay, now, row)
        if wait is None:
            return Outcome(False, 0, "no change since the last generation")
        if wait > 0:
            return Outcome(False, 0, f"changed; due in {int(wait + 0.999)} s (catalog.disclosure_export_delay)")
    return _generate(request, row, now)


def regenerate_if_due(registry: Any, base_url: str | None = None) -> bool:
    """The worker's and `ckan-sync`'s call: regenerate in a transaction of its own when due.
    A read without the write lock first, so the usual answer (nothing due) costs one query."""
    from portal.cli import app_request

    with registry["dbsession_factory"]() as session:
        if due_in(session, export_delay(registry), utcnow()) != 0:
            return False
    with app_request(registry) as request:
        if base_url:
            rebase(request, base_url)
        return regenerate_when_due(request).changed


def rebase(request: Any, base_url: str) -> None:
    """Make the request's own address `base_url` (the web request's, for the after-commit run)."""
    parts = urlsplit(base_url)
    request.scheme, request.host, request.script_name = parts.scheme, parts.netloc, parts.path.rstrip("/")


# -- changes -----------------------------------------------------------------------------------

TIMER_KEY = "catalog.disclosure_export.timer"
_timer_lock = threading.Lock()


def holds_disclosures(dbsession: Any, node: Node) -> bool:
    dbsession.flush()  # a move: the paths below are written
    return dbsession.scalar(select(Disclosure.id).where(
        Disclosure.path.startswith(node.path, autoescape=True)).limit(1)) is not None


def container_changed(dbsession: Any, event: events.ContentEvent) -> bool:
    """A container holding disclosures was transitioned, moved or removed (its edits change nothing
    the catalogue shows)."""
    node = event.node
    return (isinstance(event, (events.WorkflowTransitioned, events.ObjectMoved, events.ObjectRemoved))
            and node.folderish and not isinstance(node, Dataset) and holds_disclosures(dbsession, node))


def on_change(event: events.ContentEvent) -> None:
    """A disclosure changed, or a container holding some changed state, place or existence: the
    public catalogue may have changed. One row per transaction (per request)."""
    request, node = event.request, event.node
    if request is None:
        return
    recorded = getattr(request, "_disclosure_export_change", None)
    if recorded is not None and recorded in request.dbsession:  # (not if a failed action's savepoint dropped it)
        return
    if not (isinstance(node, Disclosure) or container_changed(request.dbsession, event)):
        return
    request._disclosure_export_change = DisclosureChange(created=utcnow())
    request.dbsession.add(request._disclosure_export_change)
    if not getattr(request, "_disclosure_export_hooked", False) and after_commit_enabled(request.registry):
        request._disclosure_export_hooked = True
        registry, base_url = request.registry, request.application_url

        def after_commit(committed: bool) -> None:
            if committed:
                run_quietly(registry, base_url)

        request.tm.get().addAfterCommitHook(after_commit)


def run_quietly(registry: Any, base_url: str | None) -> None:
    """Regenerate if due; if changes wait for the delay, come back when it has passed (one timer a
    process). Never fails a request: what is not done now stays recorded."""
    try:
        if regenerate_if_due(registry, base_url):
            return
        with registry["dbsession_factory"]() as session:
            wait = due_in(session, export_delay(registry), utcnow())
    except Exception:  # noqa: BLE001 - the change is committed; its row waits for the next run
        log.exception("regenerating the disclosure catalogue's CSV failed; run `portal disclosure-export`")
        return
    if wait:
        with _timer_lock:
            timer = registry.get(TIMER_KEY)
            if timer is not None and timer.is_alive():
                return
            timer = threading.Timer(wait + 0.5, run_quietly, (registry, base_url))
            timer.daemon = True
            registry[TIMER_KEY] = timer
            timer.start()


def on_site_set_up(event: events.SiteSetUp) -> None:
    """`portal init`: the dataset when missing."""
    request = event.request
    row = export_row(request.dbsession)
    dataset = ensure_dataset(request)
    if dataset is None:
        event.notes.append(f"disclosure catalogue dataset: no unit {OFFICE!r} to publish it; not made")
    elif row is None or row.resource_id is None:
        event.notes.append(f"disclosure catalogue dataset: made at {dataset.path}")
        if not configured_base(request.registry):
            event.notes.append(f"note: catalog.portal_url is not set: the addresses in {FILENAME} start with "
                               f"{public_base(request)} until it is")


# -- the command -------------------------------------------------------------------------------

def cmd_disclosure_export(args: argparse.Namespace) -> None:
    from portal.cli import CommandError, script_request

    with script_request(args.config) as request:
        dataset = ensure_dataset(request)
        if dataset is None:
            raise CommandError(f"no unit {OFFICE!r} to publish the disclosure catalogue")
        outcome = regenerate_when_due(request, force=args.force)
        url = public_base(request) + dataset.path
    if outcome.reason:
        print(f"{FILENAME}: not regenerated: {outcome.reason}")
    else:
        print(f"{FILENAME}: {outcome.rows} documents, {'new file saved' if outcome.changed else 'unchanged'}")
    print(f"dataset: {url}")


def register(sub: Any) -> None:
    """Entry point of the `portal.commands` group: adds `portal -c INI disclosure-export`."""
    command = sub.add_parser("disclosure-export", help="make the disclosure catalogue dataset if missing and "
                                                       "regenerate its CSV when changes are due")
    command.add_argument("--force", action="store_true", help="regenerate now, whatever the delay")
    command.set_defaults(func=cmd_disclosure_export)


def includeme(config: Any) -> None:
    for event in (events.ObjectAdded, events.ObjectModified, events.WorkflowTransitioned, events.ObjectMoved,
                  events.ObjectRemoved):
        config.add_subscriber(on_change, event)
    config.add_subscriber(on_site_set_up, events.SiteSetUp)
