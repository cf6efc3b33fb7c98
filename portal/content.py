"""Content operations: every change to the tree goes through here, so revisions, drafts,
redirects and events are never forgotten by one view or the other (pages and API alike)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, DateTime, String, func, inspect, literal, select, update

from . import events
from .i18n import _
from .models import Node, Redirect, Revision, WorkflowEvent
from .models.node import utcnow
from .registry import TypeInfo, type_info
from .slugs import slugify, unique_name, valid_name
from .workflow import INITIAL_STATE, find_transition


# Why a change is refused, as people read it (pages and API show the same words).
UNKNOWN_TYPE = _("Unknown content type")
NOT_ADDABLE = _("This kind of item cannot be added here")
INVALID_NAME = _("Use lower-case letters, digits and - (at most 80 characters).")
NAME_TAKEN = _("Another item here already uses this name.")
ROOT_FIXED = _("The portal root cannot be renamed or deleted")
CHANGED_MEANWHILE = _("Someone else changed this item since you loaded it. Load it again and redo your change.")
NOT_AVAILABLE = _("This action is not available in the item's current state.")
COMMENT_REQUIRED = _("Please give a reason in the comment: the editor will see it.")


class ContentError(Exception):
    """A change refused for a reason the user can fix; `message` is a translation string."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


class Conflict(ContentError):
    """The item changed since the user's copy was loaded."""


def actor(request: Any) -> str | None:
    return request.authenticated_userid if request is not None else None


# -- field values <-> JSON (revisions, drafts and the API share this) ----------------------------

def _column_type(cls: type[Node], name: str) -> Any:
    attr = inspect(cls).attrs.get(name)
    if attr is None or not hasattr(attr, "columns"):
        return None
    return attr.columns[0].type


def dump_value(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def load_value(cls: type[Node], name: str, value: Any) -> Any:
    if value is None:
        return None
    kind = _column_type(cls, name)
    if isinstance(kind, DateTime) and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if isinstance(kind, Date) and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def dump_fields(node: Node) -> dict[str, Any]:
    return {name: dump_value(getattr(node, name)) for name in node.fields}


def load_fields(node: Node, data: dict[str, Any]) -> None:
    for name in node.fields:
        if name in data:
            setattr(node, name, load_value(type(node), name, data[name]))


def normalize_appstruct(node_cls: type[Node], appstruct: dict[str, Any]) -> dict[str, Any]:
    """Form/API values as JSON-able field data; aware datetimes become naive UTC."""
    out: dict[str, Any] = {}
    for name in node_cls.fields:
        if name not in appstruct:
            continue
        value = appstruct[name]
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if value is Ellipsis:  # "keep what is there" (an unchanged file field)
            continue
        out[name] = dump_value(value)
    return out


# -- revisions -----------------------------------------------------------------------------------

def add_revision(request: Any, node: Node, kind: str, data: dict[str, Any], comment: str = "") -> Revision:
    number = (request.dbsession.scalar(
        select(func.max(Revision.number)).where(Revision.node_id == node.id)) or 0) + 1
    revision = Revision(node_id=node.id, number=number, kind=kind, actor=actor(request), data=data,
                        comment=comment)
    request.dbsession.add(revision)
    return revision


def revisions(request: Any, node: Node) -> list[Revision]:
    return list(request.dbsession.scalars(
        select(Revision).where(Revision.node_id == node.id).order_by(Revision.number.desc())))


def history(request: Any, node: Node) -> list[WorkflowEvent]:
    return list(request.dbsession.scalars(
        select(WorkflowEvent).where(WorkflowEvent.node_id == node.id).order_by(WorkflowEvent.at.desc(),
                                                                              WorkflowEvent.id.desc())))


# -- create, save, rename, move, delete ----------------------------------------------------------

def create(request: Any, container: Node, type_name: str, data: dict[str, Any], name: str | None = None) -> Node:
    info: TypeInfo | None = type_info(request.registry, type_name)
    if info is None:
        raise ContentError(UNKNOWN_TYPE, field="@type")
    if not info.addable_in(container):
        raise ContentError(NOT_ADDABLE, field="@type")
    node = info.factory()
    node.state = INITIAL_STATE
    node.owner = actor(request)
    node.created = node.modified = utcnow()
    fields = normalize_appstruct(info.factory, data)
    load_fields(node, fields)
    base = name or slugify(node.title or type_name.lower())
    if name is not None and not valid_name(name):
        raise ContentError(INVALID_NAME, field="name")
    container.add(node, unique_name(container, base))
    request.dbsession.flush()
    add_revision(request, node, "edit", dump_fields(node))
    events.notify(request, events.ObjectAdded(node, request))
    return node


def save(request: Any, node: Node, data: dict[str, Any], expected_version: int | None = None) -> str:
    """Apply an edit. Returns 'saved' or 'draft' (a published item changed by a non-reviewer)."""
    if expected_version is not None and expected_version != node.version:
        raise Conflict(CHANGED_MEANWHILE)
    fields = normalize_appstruct(type(node), data)
    now = utcnow()
    node.version += 1
    if node.state == "published" and not request.has_permission("review", node):
        draft = {**dump_fields(node), **(node.draft or {}), **fields}
        node.draft, node.draft_by, node.draft_at = draft, actor(request), now
        add_revision(request, node, "draft", draft)
        events.notify(request, events.ObjectModified(node, request))
        return "draft"
    load_fields(node, fields)
    node.modified = now
    request.dbsession.flush()
    add_revision(request, node, "edit", dump_fields(node))
    events.notify(request, events.ObjectModified(node, request))
    return "saved"


def restore(request: Any, node: Node, revision: Revision) -> str:
    return save(request, node, {k: load_value(type(node), k, v) for k, v in revision.data.items()})


def rename(request: Any, node: Node, new_name: str) -> None:
    """Change the URL name; the old URL (and every URL below it) keeps working as a redirect."""
    if node.parent is None:
        raise ContentError(ROOT_FIXED)
    if not valid_name(new_name):
        raise ContentError(INVALID_NAME, field="name")
    if new_name == node.name:
        return
    if new_name in node.parent.keys():
        raise ContentError(NAME_TAKEN, field="name")
    old_path = node.path
    new_path = f"{node.parent.path}{new_name}/"
    _repath(request, old_path, new_path)
    node.name = new_name
    request.dbsession.execute(Redirect.__table__.delete().where(Redirect.old_path == old_path))
    request.dbsession.add(Redirect(old_path=old_path, node_id=node.id))
    events.notify(request, events.ObjectMoved(node, request, old_path=old_path))


def _repath(request: Any, old: str, new: str) -> None:
    session = request.dbsession
    session.flush()
    session.execute(
        update(Node).where(Node.path.like(f"{old}%"))
        .values(path=literal(new, String) + func.substr(Node.path, len(old) + 1))
        .execution_options(synchronize_session=False))
    # a redirect that now points to an existing path would shadow the real node
    session.execute(Redirect.__table__.delete().where(Redirect.old_path.like(f"{new}%")))
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Node) and obj.path.startswith(old):
            session.expire(obj, ["path"])


def reorder(request: Any, container: Node, names: list[str]) -> None:
    by_name = {c.name: c for c in container.children}
    ordered = [by_name[n] for n in names if n in by_name]
    ordered += [c for c in container.children if c not in ordered]
    for position, child in enumerate(ordered):
        child.position = position
    container.children.sort(key=lambda c: c.position)


def move(request: Any, node: Node, position: int) -> None:
    """Move a child to `position` among its siblings."""
    siblings = [c for c in node.parent.children if c is not node]
    position = max(0, min(position, len(siblings)))
    siblings.insert(position, node)
    reorder(request, node.parent, [c.name for c in siblings])


def delete(request: Any, node: Node) -> None:
    if node.parent is None:
        raise ContentError(ROOT_FIXED)
    events.notify(request, events.ObjectRemoved(node, request))
    parent = node.parent
    parent.children.remove(node)
    request.dbsession.delete(node)
    request.dbsession.flush()


# -- workflow ------------------------------------------------------------------------------------

def transition(request: Any, node: Node, name: str, comment: str = "") -> None:
    """Run a workflow transition; raises ContentError when it is not possible or not allowed."""
    t = find_transition(node, name)
    if t is None:
        raise ContentError(NOT_AVAILABLE, field="transition")
    if not request.has_permission(t.permission, node):
        raise PermissionError(name)
    comment = (comment or "").strip()
    if t.comment_required and not comment:
        raise ContentError(COMMENT_REQUIRED, field="comment")
    if t.needs_draft or (name == "retract" and node.draft is not None):
        if name == "publish" or name == "retract":
            load_fields(node, node.draft)
            node.modified = utcnow()
            request.dbsession.flush()
            add_revision(request, node, "approved" if name == "publish" else "edit", dump_fields(node))
        node.draft = node.draft_by = node.draft_at = None
    set_state(request, node, t.target, name, comment)


def set_state(request: Any, node: Node, target: str, transition_name: str, comment: str = "") -> None:
    """Move a node to `target` and record it; `transition` checks the rules, set-up code calls this
    directly (e.g. to publish the standard pages of a new unit)."""
    source, now = node.state, utcnow()
    node.state = target
    node.version += 1
    if target == "published" and node.published is None:
        node.published = now  # the publication date is set once, at the first publish
    request.dbsession.add(WorkflowEvent(node_id=node.id, transition=transition_name, from_state=source,
                                        to_state=target, actor=actor(request), at=now, comment=comment))
    events.notify(request, events.WorkflowTransitioned(node, request, transition=transition_name,
                                                       from_state=source, to_state=target))
