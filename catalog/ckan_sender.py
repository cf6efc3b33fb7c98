"""The one sender to CKAN: applies the CKAN outbox (catalog.ckan_outbox) through ckanapi.

Every call goes through one `Sender` holding the CKAN lock (portal.locks: one sender at a time
across threads and processes, or two could create the same resource twice). For each dataset it
reads the database in a transaction of its own, calls CKAN with no transaction open (an upload
must not hold SQLite's write lock), then stores the outcome and deletes the rows it took in a
short write transaction. Rows written meanwhile stay for the next drain.

Exactly once, whatever fails when. The package's name is made once and stored; a `package_create`
whose answer was lost finds the name taken by a package carrying our uid and adopts it. Every
update sends the resources the portal knows the CKAN ids of, so CKAN drops any resource whose
creation answer was lost, before the sender uploads it again. A package deleted or edited by hand
is put back by the next change or by `ckan-sync --all`.

Failures: CKAN unreachable (refused, timed out, a 5xx, a refused token) keeps the rows, with an
exponential backoff capped at `catalog.retry_max_delay`, and ends the drain. A validation error
is CKAN refusing this dataset: stored on the dataset and shown to its editors, not retried until
the dataset sends something else or someone runs `ckan-sync --retry-failed`.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import requests
from ckanapi import RemoteCKAN
from ckanapi.errors import CKANAPIError, NotAuthorized, NotFound, ValidationError
from sqlalchemy import delete, select, update

from portal.locks import LockBusy, ProcessLock, process_lock
from portal.models import Node
from portal.models.node import utcnow
from portal.pagecache.tags import bump
from portal.settings import portal_settings

from . import ckan_mapping as m
from .ckan_outbox import ERROR, SYNCED, WITHDRAWN, CkanOutbox, CkanPackage, detached_key, enqueue
from .dataset import Dataset
from .settings import CatalogSettings, catalog_settings

log = logging.getLogger(__name__)
READ_ACTIONS = frozenset({"package_show", "organization_show", "status_show"})
LOCK_TIMEOUT = 30.0  # seconds a drain waits for another sender


class SenderBusy(LockBusy):
    """Another process or thread is sending to CKAN; its drain takes the rows."""


class CkanUnreachable(Exception):
    """CKAN did not answer, answered with a server error, or refused the token: try again later."""


class SenderLock(ProcessLock):
    busy = SenderBusy


@dataclass
class Report:
    """What a drain or a sync did, and the CKAN calls it made by action."""
    created: int = 0
    updated: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    failed: int = 0
    unreachable: str = ""
    calls: Counter[str] = field(default_factory=Counter)

    @property
    def write_calls(self) -> int:
        return sum(n for action, n in self.calls.items() if action not in READ_ACTIONS)

    def line(self) -> str:
        text = (f"{self.created} created, {self.updated} updated, {self.withdrawn} withdrawn, "
                f"{self.unchanged} unchanged, {self.failed} refused by CKAN; "
                f"{sum(self.calls.values())} CKAN calls ({self.write_calls} writes)")
        return text + (f"; CKAN unreachable: {self.unreachable}" if self.unreachable else "")


def error_text(exc: ValidationError) -> str:
    """CKAN's field errors as one line (`tags: Tag "x" length is less than minimum 2`)."""
    errors = exc.error_dict if isinstance(getattr(exc, "error_dict", None), dict) else {"": str(exc)}
    parts = []
    for key, value in errors.items():
        if key == "__type":
            continue
        text = "; ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(f"{key}: {text}" if key else text)
    return " | ".join(parts)[:2000] or "CKAN refused the dataset"


def backoff(attempts: int, cap: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(2 ** max(attempts, 1), cap))


class Sender:
    """Sends datasets to one CKAN. `api` may be given (tests, the benchmark's call counting)."""

    def __init__(self, registry: Any, api: Any = None) -> None:
        self.registry = registry
        self.settings: CatalogSettings = catalog_settings(registry)
        self.factory = registry["dbsession_factory"]
        self.blobs = registry["blobstore"]
        self.api = api or RemoteCKAN(self.settings.ckan_url, apikey=self.settings.ckan_api_token,
                                     user_agent="huangmei-portal")
        self.orgs: dict[str, str] = {}  # organisation name -> id, known to exist
        self.report = Report()

    # -- CKAN calls ------------------------------------------------------------------------------

    def call(self, action: str, data: dict[str, Any], files: dict[str, Any] | None = None) -> Any:
        self.report.calls[action] += 1
        try:
            return self.api.call_action(action, data, files=files,
                                        requests_kwargs={"timeout": self.settings.ckan_timeout})
        except (ValidationError, NotFound):
            raise
        except NotAuthorized as exc:
            raise CkanUnreachable(f"CKAN refused {action} (check catalog.ckan_api_token: a sysadmin's token): "
                                  f"{exc}") from exc
        except (requests.RequestException, CKANAPIError, OSError) as exc:
            raise CkanUnreachable(f"{action} at {self.settings.ckan_url}: {type(exc).__name__}: {str(exc)[:300]}") from exc

    def organization(self, name: str, title: str) -> str:
        if name not in self.orgs:
            try:
                org = self.call("organization_show", {"id": name})
            except NotFound:
                org = self.call("organization_create", {"name": name, "title": title})
            self.orgs[name] = org["id"]
        return self.orgs[name]

    # -- draining --------------------------------------------------------------------------------

    def lock(self) -> ProcessLock:
        where = portal_settings(self.registry).blobs_dir / "locks" / "ckan-sender"
        lock = process_lock(where, SenderLock, what="the CKAN sender", default_timeout=LOCK_TIMEOUT)
        return lock

    def drain(self, *, due_only: bool = True, timeout: float | None = None,
              progress: Callable[[int], Any] | None = None, total: Callable[[int], Any] | None = None) -> Report:
        """Apply the rows waiting (with `due_only`, those whose backoff is over). Raises SenderBusy."""
        with self.lock().hold(timeout):
            now = utcnow()
            with self.factory() as session:
                query = select(CkanOutbox.node_id, CkanOutbox.id).order_by(CkanOutbox.id)
                if due_only:
                    query = query.where((CkanOutbox.not_before.is_(None)) | (CkanOutbox.not_before <= now))
                taken: dict[int, int] = {}
                for node_id, row_id in session.execute(query):
                    taken[node_id] = row_id  # the newest row of each dataset, in order of the first
            if total:
                total(len(taken))
            for node_id, last_row in taken.items():
                try:
                    self.apply(node_id, up_to=last_row)
                except CkanUnreachable as exc:
                    self.report.unreachable = str(exc)
                    self.defer(str(exc))
                    log.warning("CKAN unreachable; %d datasets stay queued: %s", len(taken), exc)
                    break
                if progress:
                    progress(1)
        return self.report

    def defer(self, reason: str) -> None:
        """Every row waiting tries again after its backoff."""
        now = utcnow()
        with self.factory() as session, session.begin():
            for row in session.scalars(select(CkanOutbox)):
                row.attempts = (row.attempts or 0) + 1
                row.not_before = now + backoff(row.attempts, self.settings.retry_max_delay)
                row.last_error = reason[:2000]

    def sync_all(self, *, progress: Callable[[int], Any] | None = None,
                 total: Callable[[int], Any] | None = None) -> Report:
        """Compare every published dataset (and every package the portal made) with CKAN now and
        write only where they differ."""
        with self.lock().hold():
            with self.factory() as session:
                ids = set(session.scalars(select(Dataset.id)))
                ids |= set(session.scalars(select(CkanPackage.node_id).where(CkanPackage.state != WITHDRAWN)))
            if total:
                total(len(ids))
            for node_id in sorted(ids):
                try:
                    self.apply(node_id, compare=True)
                except CkanUnreachable as exc:
                    self.report.unreachable = str(exc)
                    break
                if progress:
                    progress(1)
        return self.report

    # -- one dataset -----------------------------------------------------------------------------

    def apply(self, node_id: int, *, up_to: int | None = None, compare: bool = False, force: bool = False) -> str:
        """Bring dataset `node_id`'s package up to date; delete its outbox rows up to `up_to`."""
        with self.factory() as session:
            record = session.get(CkanPackage, node_id)
            known = _snapshot(record)
            node = session.get(Node, node_id)
            want: m.Desired | None = None
            org_title = ""
            if isinstance(node, Dataset) and m.public_now(node):
                org = m.organization_name(self.settings.ckan_org_prefix, node)
                unit = node.unit()
                org_title = unit.title if unit else ""
                name = known["name"] or free_name(session, m.package_name(node), node_id)
                want = m.desired(node, self.settings.portal_url, org, name)
        outcome, error = "unchanged", ""
        if want is not None and not known["name"]:
            # the name is kept before the first create: should its answer be lost and the dataset
            # be renamed meanwhile, the next send still finds (and adopts) the package it made
            known["name"] = want.package["name"]
            self.store(node_id, known, None, touched=False)
        try:
            if want is None:
                if known["ckan_id"] and known["state"] != WITHDRAWN:
                    try:
                        self.call("package_delete", {"id": known["ckan_id"]})
                    except NotFound:
                        pass
                    known["state"], outcome = WITHDRAWN, "withdrawn"
            elif not force and known["sent_hash"] == want.hash and known["state"] == ERROR:
                outcome = "unchanged"  # refused for exactly this (even a first create): wait for a change
            elif not compare and not force and known["sent_hash"] == want.hash and known["state"] == SYNCED \
                    and known["ckan_id"]:
                outcome = "unchanged"  # sent already
            else:
                outcome = self.send(want, known, org_title, compare=compare)
                known["state"], known["sent_hash"], known["error"] = SYNCED, want.hash, ""
        except ValidationError as exc:
            error = error_text(exc)
            known["state"], known["error"], outcome = ERROR, error, "failed"
            known["sent_hash"] = want.hash if want else ""
            log.warning("CKAN refused dataset %s: %s", node_id, error)
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)
        self.store(node_id, known, up_to, touched=outcome != "unchanged" or compare)
        return outcome

    def send(self, want: m.Desired, known: dict[str, Any], org_title: str, *, compare: bool) -> str:
        package = dict(want.package)
        package["owner_org"] = self.organization(package["owner_org"], org_title)
        if compare and known["ckan_id"]:
            try:
                current = self.call("package_show", {"id": known["ckan_id"]})
            except NotFound:
                current = None
            if current is not None and m.comparable(current) == m.comparable(want.package):
                return "unchanged"
        created = not known["ckan_id"]
        result = self.write_package(package, known)
        self.upload_files(want, known, result)
        return "created" if created else "updated"

    def write_package(self, package: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
        """Create or update the package with the resources CKAN is known to hold; returns CKAN's package."""
        resources = []
        for entry in package["resources"]:
            uid = entry[m.PORTAL_UID]
            held = known["resources"].get(uid)
            if entry.get("url_type") == "upload":
                if not held:
                    continue  # uploaded after the package is written
                entry = {**entry, "id": held["id"], "url": held.get("url", ""), m.PORTAL_HASH: held["hash"]}
            elif held:
                entry = {**entry, "id": held["id"]}
            resources.append(entry)
        body = {**package, "resources": resources, "state": "active"}
        if known["ckan_id"]:
            try:
                return self.call("package_update", {**body, "id": known["ckan_id"]})
            except NotFound:  # purged by hand in CKAN: make it again
                known["ckan_id"], known["resources"] = None, {}
                return self.write_package(package, known)
        try:
            result = self.call("package_create", body)
        except ValidationError as exc:
            if "name" not in (getattr(exc, "error_dict", None) or {}):
                raise
            result = self.adopt(body, known)
        known["ckan_id"], known["name"] = result["id"], result["name"]
        return result

    def adopt(self, body: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
        """The name is taken: ours if the package is in our organisation and carries this dataset's
        uid (a create whose answer was lost, or a package deleted earlier), else someone else's, and
        the name gets the uid."""
        uid = next(e["value"] for e in body["extras"] if e["key"] == m.PORTAL_UID)
        try:
            existing = self.call("package_show", {"id": body["name"]})
        except NotFound:
            existing = None
        # the uid is a node id, unique in one portal only: a package of another portal sharing this
        # CKAN (another organisation prefix, e.g. a staging copy) may carry the same one
        if existing is not None and existing.get("owner_org") == body["owner_org"] and any(
                e.get("key") == m.PORTAL_UID and e.get("value") == uid for e in existing.get("extras") or []):
            known["resources"] = {}  # resources it holds are dropped by the update, then uploaded
            body = {**body, "resources": [r for r in body["resources"] if r.get("url_type") != "upload"]}
            return self.call("package_update", {**body, "id": existing["id"]})
        if body["name"].endswith(f"-{uid}"):
            raise ValidationError({"name": [f"the CKAN name {body['name']} is used by another package"]})
        body = {**body, "name": m.ckan_name(f"{body['name'][:90]}-{uid}")}
        return self.call("package_create", body)

    def upload_files(self, want: m.Desired, known: dict[str, Any], package: dict[str, Any]) -> None:
        """Match the resources CKAN returned to ours, then upload each file CKAN lacks, and put the
        resources in the portal's order (CKAN appends a new upload after the links)."""
        held = {str(r.get(m.PORTAL_UID)): r for r in package.get("resources") or [] if r.get(m.PORTAL_UID)}
        order = [r["id"] for r in package.get("resources") or []]
        wanted = {e[m.PORTAL_UID]: e for e in want.package["resources"]}
        known["resources"] = {uid: {"id": r["id"], "hash": str(r.get(m.PORTAL_HASH) or ""), "url": r.get("url", "")}
                              for uid, r in held.items() if uid in wanted}
        for uid, upload in want.uploads.items():
            current = known["resources"].get(uid)
            if current and current["hash"] == upload.digest:
                continue
            entry = {k: v for k, v in wanted[uid].items() if k != "url_type"}
            entry[m.PORTAL_HASH] = upload.digest
            with self.blobs.open(upload.digest) as fh:
                files = {"upload": (upload.filename, fh, upload.content_type)}
                if current:
                    result = self.call("resource_update", {**entry, "id": current["id"]}, files=files)
                else:
                    result = self.call("resource_create", {**entry, "package_id": known["ckan_id"]}, files=files)
                    order.append(result["id"])
            known["resources"][uid] = {"id": result["id"], "hash": upload.digest, "url": result.get("url", "")}
        wanted_order = [known["resources"][e[m.PORTAL_UID]]["id"] for e in want.package["resources"]
                        if e[m.PORTAL_UID] in known["resources"]]
        if order != wanted_order:
            self.call("package_resource_reorder", {"id": known["ckan_id"], "order": wanted_order})

    def store(self, node_id: int, known: dict[str, Any], up_to: int | None, *, touched: bool) -> None:
        with self.factory() as session, session.begin():
            if known["name"] or known["ckan_id"]:
                record = session.get(CkanPackage, node_id) or _new_record(session, node_id, known["name"])
                session.add(record)
                for key in ("ckan_id", "name", "resources", "sent_hash", "state", "error"):
                    setattr(record, key, known[key])
                if touched and known["state"] != ERROR:
                    record.synced_at = utcnow()
            if up_to is not None:
                session.execute(delete(CkanOutbox).where(CkanOutbox.node_id == node_id, CkanOutbox.id <= up_to))
            bump(session, {f"tree:{node_id}"})  # the dataset's page and JSON show where it stands in CKAN


def free_name(session: Any, base: str, node_id: int) -> str:
    """`base`, unless another record holds it (a deleted dataset's package keeps its name in
    CKAN): then `base-<id>`."""
    taken = session.scalar(select(CkanPackage.node_id).where(CkanPackage.name == base))
    return base if taken in (None, node_id) else m.ckan_name(f"{base[:90]}-{node_id}")


def _new_record(session: Any, node_id: int, name: str) -> CkanPackage:
    """The record of a first send -- unless the dataset was deleted while it was sent: then its
    record is where the deletion moved it (ckan_outbox.detach), or it gets a detached key, queued,
    so that the next drain deletes the package and no later node with this id inherits it."""
    if session.get(Node, node_id) is not None:
        return CkanPackage(node_id=node_id, name=name)
    moved = session.scalar(select(CkanPackage).where(CkanPackage.name == name))
    if moved is not None:
        return moved
    key = detached_key(session, node_id)
    enqueue(session, [key])
    return CkanPackage(node_id=key, name=name)


def _snapshot(record: CkanPackage | None) -> dict[str, Any]:
    if record is None:
        return {"ckan_id": None, "name": "", "resources": {}, "sent_hash": "", "state": "", "error": ""}
    return {"ckan_id": record.ckan_id, "name": record.name, "resources": dict(record.resources or {}),
            "sent_hash": record.sent_hash, "state": record.state, "error": record.error}


def retry_failed(registry: Any) -> int:
    """Queue every dataset CKAN refused, for the next drain."""
    with registry["dbsession_factory"]() as session, session.begin():
        ids = list(session.scalars(select(CkanPackage.node_id).where(CkanPackage.state == ERROR)))
        session.execute(update(CkanPackage).where(CkanPackage.state == ERROR).values(sent_hash=""))
        enqueue(session, ids)
    return len(ids)


def send_quietly(registry: Any) -> None:
    """Never fail a request for CKAN: what is not sent now stays in the outbox."""
    try:
        Sender(registry).drain(timeout=0.5)
    except SenderBusy:
        log.info("another sender is at work; the CKAN outbox waits for it")
    except Exception:  # noqa: BLE001 - the content change is committed; the outbox keeps the work
        log.exception("sending to CKAN failed; the outbox keeps the work (run `portal ckan-sync`)")


def schedule_send(request: Any) -> None:
    """In development, send right after this request's transaction commits."""
    registry = request.registry
    if not catalog_settings(registry).send_after_commit or getattr(request, "_ckan_send_scheduled", False):
        return
    request._ckan_send_scheduled = True

    def after_commit(committed: bool) -> None:
        if committed:
            send_quietly(registry)

    request.tm.get().addAfterCommitHook(after_commit)


def datasets_reaching_dates(session: Any, since: dt.datetime, now: dt.datetime) -> Iterable[int]:
    """Datasets (and datasets of resources) whose effective or expiry date passed in (since, now]:
    no event tells the sender that they went public or stopped being public."""
    crossed = ((Node.effective > since) & (Node.effective <= now)) | ((Node.expires > since) & (Node.expires <= now))
    ids = set(session.scalars(select(Node.id).where(Node.type == "Dataset", crossed)))
    ids |= set(session.scalars(select(Node.parent_id).where(Node.type == "Resource", crossed)))
    return sorted(i for i in ids if i is not None)
