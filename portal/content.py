"""Content operations: every change to the tree goes through here, so revisions, drafts,
redirects and events are never forgotten by one view or the other (pages and API alike).

Each action also makes every decision about the change itself: whether the acting user may (the
type's add permission, `edit`, `delete`, the transition's permission: `Forbidden`), whether the type
may be added there, whether a URL name is valid and free, whether the item changed meanwhile
(`ContentError` and its subclasses, with the field they are about). Pages and the API only
translate these errors into their own answers. Set-up code that acts without a user (the standard
pages of a new unit, made while `portal init` loads the units) says so at the call site with
`unrestricted=True`; nothing is unchecked by default.

Rich-text fields (`TypeInfo.html_fields`) are sanitised here, on every write, whoever calls.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

from sqlalchemy import Date, DateTime, String, UniqueConstraint, event, func, inspect, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import events
from .i18n import _
from .models import Node, Redirect, Revision, User, WorkflowEvent
from .models.node import utcnow
from .registry import TypeInfo, info_for, type_info
from .sanitize import sanitize_html
from .schemas import DATE_OUT_OF_RANGE, date_in_range
from .settings import portal_settings
from .slugs import free_name, slugify, valid_name
from .uploads import human_size
from .visibility import public_now
from .workflow import INITIAL_STATE, PUBLIC_STATES, Transition, find_transition


# Why a change is refused, as people read it (pages and API show the same words).
NOT_ADDABLE = _("This kind of item cannot be added here")
INVALID_NAME = _("Use lower-case letters, digits and - (at most 80 characters).")
NAME_TAKEN = _("Another item here already uses this name.")
ROOT_FIXED = _("The portal root cannot be renamed or deleted")
CHANGED_MEANWHILE = _("Someone else changed this item since you loaded it. Load it again and redo your change.")
NOT_AVAILABLE = _("This action is not available in the item's current state.")
COMMENT_REQUIRED = _("Please give a reason in the comment: the editor will see it.")
MOVE_INTO_ITSELF = _("An item cannot be moved into itself or into an item inside it.")
# A unique value (a unit's organisation code, a 索引号) that the database refused, when it cannot
# be told which one (`value_taken` names it when it can).
VALUES_TAKEN = _("Another item already uses one of these values")
NOT_TEXT = _("Contains characters that are not valid text (for example a lone surrogate). Check the text and "
             "type it again.")
# How often `create` picks a new URL name when a concurrent creation took the one it picked.
NAME_ATTEMPTS = 20

# What each kind of revision is called on the history page and in `@history`.
REVISION_KINDS = {
    "edit": _("Edit"),
    "draft": _("Change waiting for review"),
    "approved": _("Approved change"),
    "restore": _("Restore"),  # written by earlier releases; restoring now writes an edit or a draft
    "move": _("Moved"),  # into another container (`move_to`); the comment says from where to where
}


def value_taken(value: Any) -> Any:
    return _("Another item already uses ${value}.", mapping={"value": str(value)})


def offline_comment_required(count: int) -> Any:
    return _("${count} public items will become unreachable: give the reason in the comment.",
             mapping={"count": str(count)})


def text_too_long(limit: int, length: int) -> Any:
    return _("Too long: at most ${limit} characters (this has ${length}).",
             mapping={"limit": str(limit), "length": str(length)})


def rich_text_too_large(limit: int, size: int) -> Any:
    return _("Too large: at most ${limit} of text and markup (this has ${size}).",
             mapping={"limit": human_size(limit), "size": human_size(size)})


class ContentError(Exception):
    """A change refused for a reason the user can fix; `message` is a translation string."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


class Conflict(ContentError):
    """The item changed since the user's copy was loaded."""


class Taken(ContentError):
    """A value that must be unique (see `value_taken`) is used by another item."""


class Forbidden(Exception):
    """The acting user lacks `permission` on `node`: pages answer 403, the API 401 or 403.

    Not a ContentError: a form must not show it as a field error and carry on."""

    def __init__(self, permission: str, node: Node) -> None:
        super().__init__(f"{permission!r} on {node.path!r}")
        self.permission = permission
        self.node = node


def require(request: Any, permission: str, node: Node, unrestricted: bool = False) -> None:
    """Raise Forbidden unless the acting user has `permission` on `node` (or the caller is set-up
    code that said `unrestricted`)."""
    if not unrestricted and not request.has_permission(permission, node):
        raise Forbidden(permission, node)


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


def valid_text(value: str) -> bool:
    """Encodable as UTF-8: JSON's "\\ud800" is a str that no database or page can take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normalize_appstruct(node_cls: type[Node], appstruct: dict[str, Any]) -> dict[str, Any]:
    """Form/API values as JSON-able field data; aware datetimes become naive UTC.

    Values that cannot be stored are refused with their field: dates outside the years the portal
    knows (`portal.schemas.MIN_YEAR`..`MAX_YEAR`; converting 9999-12-31T23:59:59-12:00 to UTC
    overflows) and text that is not valid Unicode."""
    out: dict[str, Any] = {}
    for name in node_cls.fields:
        if name not in appstruct:
            continue
        value = appstruct[name]
        if not date_in_range(value):
            raise ContentError(DATE_OUT_OF_RANGE, field=name)
        if isinstance(value, str) and not valid_text(value):
            raise ContentError(NOT_TEXT, field=name)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if value is Ellipsis:  # "keep what is there" (an unchanged file field)
            continue
        out[name] = dump_value(value)
    return out


def check_sizes(request: Any, info: TypeInfo, fields: dict[str, Any]) -> None:
    """Every text field within its limit (settings `portal.max_rich_text_size` for the type's
    rich-text fields, in bytes of UTF-8, and `portal.max_text_length` for the others, in characters).

    Why: nothing else bounds a summary or a body (5 MB were accepted) and every save keeps a full
    copy in the revisions, so one editor could fill the database; sanitising and indexing a huge
    text also holds a worker."""
    settings = portal_settings(request.registry)
    for name, value in fields.items():
        if not isinstance(value, str):
            continue
        if name in info.html_fields:
            size = len(value.encode("utf-8"))
            if size > settings.max_rich_text_size:
                raise ContentError(rich_text_too_large(settings.max_rich_text_size, size), field=name)
        elif len(value) > settings.max_text_length:
            raise ContentError(text_too_long(settings.max_text_length, len(value)), field=name)


def sanitize_fields(info: TypeInfo, fields: dict[str, Any]) -> dict[str, Any]:
    """The type's rich-text fields reduced to the allowlist (portal.sanitize). Done on every write,
    not only by the form's schema: the API, set-up code and tests write too, and what is stored is
    rendered unescaped."""
    return {name: sanitize_html(value) if name in info.html_fields and isinstance(value, str) else value
            for name, value in fields.items()}


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


def rejections(request: Any, nodes: list[Node]) -> dict[int, WorkflowEvent]:
    """The reviewer's rejection each node still carries, by node id, in one query: a private item
    whose latest workflow event is a `reject` (until it is submitted again), and a published item
    whose latest event rejected its change (until a new change waits for review). Editors would
    otherwise see an ordinary draft and find the reason only in the history."""
    ids = [n.id for n in nodes if n.state in ("private", "published") and n.id is not None]
    if not ids:
        return {}
    latest = (select(func.max(WorkflowEvent.id)).where(WorkflowEvent.node_id.in_(ids))
              .group_by(WorkflowEvent.node_id))
    found = {e.node_id: e for e in request.dbsession.scalars(
        select(WorkflowEvent).where(WorkflowEvent.id.in_(latest), WorkflowEvent.transition == "reject"))}
    out = {}
    for node in nodes:
        event = found.get(node.id)
        if event is None or event.to_state != node.state:
            continue
        if node.state == "published" and node.draft is not None and (node.draft_at or event.at) > event.at:
            continue  # a new change waits for review
        out[node.id] = event
    return out


def display_names(request: Any, logins: Any) -> dict[str, str]:
    """Each login's display name (the full name, else the login), in one query: people know
    their colleagues by name, not by account."""
    wanted = {login for login in logins if login}
    names = {login: login for login in wanted}
    if wanted:
        for login, fullname in request.dbsession.execute(
                select(User.login, User.fullname).where(User.login.in_(wanted))):
            names[login] = fullname or login
    return names


# -- writing: one savepoint per action -----------------------------------------------------------

@lru_cache(maxsize=None)
def _unique_keys(cls: type[Node]) -> tuple[str, ...]:
    """The attributes of a type kept unique by the database (the path is the name's business)."""
    keys = []
    for prop in inspect(cls).column_attrs:
        column = prop.columns[0]
        if prop.key not in ("id", "path") and (column.unique or any(
                isinstance(c, UniqueConstraint) and list(c.columns) == [column]
                for c in getattr(column.table, "constraints", ()))):
            keys.append(prop.key)
    return tuple(keys)


def _unique_values(node: Node) -> dict[str, Any]:
    """The node's values in its unique columns, as they are in memory (never a load mid-flush)."""
    state = inspect(node)
    return {key: state.dict[key] for key in _unique_keys(type(node)) if state.dict.get(key) is not None}


def _taken(session: Session, cls: type[Node], values: dict[str, Any], node_id: int | None) -> Taken:
    """Which unique value another item holds, asked after the refused write was rolled back."""
    for name, value in values.items():
        column = getattr(cls, name)
        query = select(cls.id).where(column == value)
        if node_id is not None:
            query = query.where(cls.id != node_id)
        if session.scalar(query.limit(1)) is not None:
            return Taken(value_taken(value), field=name)
    return Taken(VALUES_TAKEN)


@contextmanager
def _writing(request: Any, node: Node) -> Iterator[None]:
    """Run one action's writes in a SAVEPOINT and flush them before it is released.

    The version column and the unique columns are checked by the database, at flush. A refusal
    there, or any error of the action or its subscribers, rolls back this action alone: nothing
    half-written stays in the session, which remains usable for the page that explains. The two
    database refusals become ContentErrors: Conflict (another save of the item won the race) and
    Taken (a unique value, e.g. an organisation code or a 索引号, is another item's). The caller
    still decides the fate of the whole transaction (the views and the API doom it).
    """
    session = request.dbsession
    node_id = node.id if inspect(node).persistent else None
    written: dict[str, Any] = {}

    def remember(session: Session, flush_context: Any, instances: Any) -> None:
        # a failed flush expires the node: keep what it was about to write, to name the value
        written.update(_unique_values(node))

    savepoint = session.begin_nested()
    event.listen(session, "before_flush", remember)
    try:
        yield
        session.flush()
    except StaleDataError:
        savepoint.rollback()
        raise Conflict(CHANGED_MEANWHILE) from None
    except IntegrityError:
        savepoint.rollback()
        raise _taken(session, type(node), written, node_id) from None
    except BaseException:
        savepoint.rollback()
        raise
    else:
        savepoint.commit()
    finally:
        event.remove(session, "before_flush", remember)


# -- create, save, rename, move, delete ----------------------------------------------------------

def check_add(request: Any, container: Node, type_name: Any, *, unrestricted: bool = False) -> TypeInfo:
    """The type to add to `container`, if it may be added there by the acting user.

    `create` asks this itself; the API and the add form also ask it before they read the item's
    fields (they need the type's schema), so a refused type is refused before anything is parsed.
    """
    info = type_info(request.registry, type_name) if isinstance(type_name, str) else None
    if info is None or not info.addable_in(container):
        raise ContentError(NOT_ADDABLE, field="@type")
    require(request, info.add_permission, container, unrestricted)
    return info


def check_name(container: Node, name: Any) -> None:
    """A URL name asked for (None: made from the title) must be valid and free in `container`."""
    if name is None:
        return
    if not isinstance(name, str) or not valid_name(name):
        raise ContentError(INVALID_NAME, field="name")
    if container.has_child(name):
        raise ContentError(NAME_TAKEN, field="name")


def create(request: Any, container: Node, type_name: str, data: dict[str, Any], name: str | None = None, *,
           unrestricted: bool = False) -> Node:
    """Add a new private item of `type_name` to `container`, named `name` or after its title.

    A name made from the title is retried when a concurrent creation took it first (same-title
    items created at once: PostgreSQL refuses the second at flush), so both are created, the
    second as `<name>-2`. A name asked for is the caller's: taken is `Taken` on the field `name`.
    """
    info = check_add(request, container, type_name, unrestricted=unrestricted)
    check_name(container, name)
    fields = normalize_appstruct(info.factory, data)
    check_sizes(request, info, fields)
    fields = sanitize_fields(info, fields)
    for _attempt in range(NAME_ATTEMPTS):
        node = info.factory()
        node.state = INITIAL_STATE
        node.owner = actor(request)
        node.created = node.modified = utcnow()
        load_fields(node, fields)
        chosen = name or free_name(container, slugify(node.title or type_name.lower()))
        try:
            with _writing(request, node):
                container.add(node, chosen)
                request.dbsession.flush()
                add_revision(request, node, "edit", dump_fields(node))
                events.notify(request, events.ObjectAdded(node, request))
        except Taken:
            if not _name_in_use(request.dbsession, container, chosen):
                raise
            if name is not None:
                raise Taken(NAME_TAKEN, field="name") from None
            continue  # the savepoint is rolled back: try the next free name
        return node
    raise Taken(NAME_TAKEN, field="name")


def _name_in_use(session: Session, container: Node, name: str) -> bool:
    """Whether a refused write was refused for its URL name (another item's, committed meanwhile)."""
    return session.scalar(select(Node.id).where(Node.parent_id == container.id, Node.name == name)
                          .limit(1)) is not None


def save(request: Any, node: Node, data: dict[str, Any], expected_version: int | None = None, *,
         unrestricted: bool = False) -> str:
    """Apply an edit. Returns 'saved' or 'draft' (a published item changed by a non-reviewer)."""
    require(request, "edit", node, unrestricted)
    if expected_version is not None and expected_version != node.version:
        raise Conflict(CHANGED_MEANWHILE)
    info = info_for(request.registry, node)
    fields = normalize_appstruct(type(node), data)
    check_sizes(request, info, fields)
    fields = sanitize_fields(info, fields)
    now = utcnow()
    with _writing(request, node):
        node.version += 1
        if node.state == "published" and not request.has_permission("review", node):
            draft = {**dump_fields(node), **(node.draft or {}), **fields}
            node.draft, node.draft_by, node.draft_at = draft, actor(request), now
            add_revision(request, node, "draft", draft)
            events.notify(request, events.ObjectModified(node, request))
            outcome = "draft"
        else:
            load_fields(node, fields)
            node.modified = now
            request.dbsession.flush()
            add_revision(request, node, "edit", dump_fields(node))
            events.notify(request, events.ObjectModified(node, request))
            outcome = "saved"
    return outcome


def restore(request: Any, node: Node, revision: Revision, *, unrestricted: bool = False) -> str:
    return save(request, node, {k: load_value(type(node), k, v) for k, v in revision.data.items()},
                unrestricted=unrestricted)


def rename(request: Any, node: Node, new_name: str, *, unrestricted: bool = False) -> None:
    """Change the URL name; the old URL (and every URL below it) keeps working as a redirect.

    Needs `rename`, not `edit`: a published item's (or a unit's) address changes for the public at
    once, with no draft to review, so the workflow keeps that to reviewers (managers for units)."""
    if node.parent is None:
        raise ContentError(ROOT_FIXED)
    require(request, "rename", node, unrestricted)
    if new_name == node.name:
        return
    check_name(node.parent, new_name)
    old_path = node.path
    new_path = f"{node.parent.path}{new_name}/"
    with _writing(request, node):
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


def reorder(request: Any, container: Node, names: list[str], *, unrestricted: bool = False) -> None:
    """Put the children named in `names` first, in that order (ordering them edits the container)."""
    require(request, "edit", container, unrestricted)
    by_name = {c.name: c for c in container.children}
    ordered = [by_name[n] for n in names if n in by_name]
    ordered += [c for c in container.children if c not in ordered]
    with _writing(request, container):
        for position, child in enumerate(ordered):
            child.position = position
    container.children.sort(key=lambda c: c.position)


def move(request: Any, node: Node, position: int, *, unrestricted: bool = False) -> None:
    """Move a child to `position` among its siblings."""
    if node.parent is None:
        raise ContentError(ROOT_FIXED)
    siblings = [c for c in node.parent.children if c is not node]
    position = max(0, min(position, len(siblings)))
    siblings.insert(position, node)
    reorder(request, node.parent, [c.name for c in siblings], unrestricted=unrestricted)


def move_to(request: Any, node: Node, target: Node, *, unrestricted: bool = False) -> None:
    """Move `node` and everything below it into the container `target`, at the end of its order;
    the old URLs keep working as redirects, the search index follows the subtree (ObjectMoved),
    and the item's history records it (a `move` revision saying from where to where).

    Needs `rename` on the item, like a rename its public address changes at once, and the type's
    add permission and addability in `target` (`check_add`). The name is kept when it is free
    there, else the next free one."""
    if node.parent is None:
        raise ContentError(ROOT_FIXED)
    if target.path.startswith(node.path):
        raise ContentError(MOVE_INTO_ITSELF)
    if target is node.parent:
        return
    require(request, "rename", node, unrestricted)
    check_add(request, target, node.type, unrestricted=unrestricted)
    old_path = node.path
    name = free_name(target, node.name)
    new_path = f"{target.path}{name}/"
    position = max((c.position for c in target.children), default=-1) + 1
    with _writing(request, node):
        _repath(request, old_path, new_path)
        node.parent = target
        node.name, node.position = name, position
        request.dbsession.execute(Redirect.__table__.delete().where(Redirect.old_path == old_path))
        request.dbsession.add(Redirect(old_path=old_path, node_id=node.id))
        request.dbsession.flush()
        add_revision(request, node, "move", dump_fields(node), comment=f"{old_path} → {new_path}")
        events.notify(request, events.ObjectMoved(node, request, old_path=old_path))


def delete(request: Any, node: Node, *, unrestricted: bool = False) -> None:
    if node.parent is None:
        raise ContentError(ROOT_FIXED)
    require(request, "delete", node, unrestricted)
    with _writing(request, node):
        events.notify(request, events.ObjectRemoved(node, request))
        parent = node.parent
        parent.children.remove(node)
        request.dbsession.delete(node)


# -- workflow ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unreachable:
    """What a transition would take off the public site below a container."""
    total: int
    by_type: list[tuple[str, int]]  # (type name, count), most first
    examples: list[Node]  # a few of them, newest first


def goes_offline(request: Any, node: Node, t: Transition, examples: int = 5) -> Unreachable | None:
    """What becomes unreachable for the public when `t` takes the container `node` out of public
    view: its contents that are public now (an item is public only while every container above it
    is, see portal.workflow.containers_public). None when nothing public is below it.

    Why: retracting a unit takes its whole sub-site offline in one click; `transition` then wants
    a comment, and the page asks for a confirmation saying what goes."""
    if not node.folderish or node.id is None or t.source not in PUBLIC_STATES or t.target in PUBLIC_STATES:
        return None
    below = [Node.path.like(f"{node.path}_%"), *public_now()]
    session = request.dbsession
    session.flush()
    counts = session.execute(select(Node.type, func.count(Node.id)).where(*below).group_by(Node.type)).all()
    total = sum(n for _type, n in counts)
    if not total:
        return None
    found = session.scalars(select(Node).where(*below).order_by(Node.published.desc(), Node.id.desc())
                            .limit(examples)).all() if examples else []
    return Unreachable(total, sorted(((name, n) for name, n in counts), key=lambda c: (-c[1], c[0])), list(found))


def transition(request: Any, node: Node, name: str, comment: str = "", *, unrestricted: bool = False,
               published_at: dt.datetime | None = None) -> None:
    """Run a workflow transition; raises ContentError when it is not possible, Forbidden when the
    acting user may not. Taking a container with public contents out of public view needs a
    comment (`goes_offline`), whoever asks: the pages and the API alike.

    `published_at` is for scripts that bring in items published before (an import from the old
    site, the demo's documents of 2011): the first publication date to record instead of now, on
    the transition that publishes the item for the first time, never in the future. The date
    decides the item's place in listings, the year of the 信息公开目录 and the feeds, so a
    document of 2011 imported today must not read as news of today. Pages and the API never pass
    it: for them the publication date is the moment of publishing (see `set_state`)."""
    t = find_transition(node, name)
    if t is None:
        raise ContentError(NOT_AVAILABLE, field="transition")
    published_at = _first_publication(node, t, published_at)
    require(request, t.permission, node, unrestricted)
    comment = (comment or "").strip()
    if t.comment_required and not comment:
        raise ContentError(COMMENT_REQUIRED, field="comment")
    if not comment:
        offline = goes_offline(request, node, t, examples=0)
        if offline is not None:
            raise ContentError(offline_comment_required(offline.total), field="comment")
    if not valid_text(comment):
        raise ContentError(NOT_TEXT, field="comment")
    limit = portal_settings(request.registry).max_comment_length
    if len(comment) > limit:
        raise ContentError(text_too_long(limit, len(comment)), field="comment")
    with _writing(request, node):
        if t.needs_draft or (name == "retract" and node.draft is not None):
            if name == "publish" or name == "retract":
                load_fields(node, node.draft)
                node.modified = utcnow()
                request.dbsession.flush()
                add_revision(request, node, "approved" if name == "publish" else "edit", dump_fields(node))
            node.draft = node.draft_by = node.draft_at = None
        set_state(request, node, t.target, name, comment, published_at=published_at)


def _first_publication(node: Node, t: Transition, published_at: dt.datetime | None) -> dt.datetime | None:
    """`published_at` as naive UTC, if `t` publishes `node` for the first time and the date is not
    in the future; a script asking anything else is a mistake of the script (ValueError)."""
    if published_at is None:
        return None
    if t.target != "published" or node.published is not None:
        raise ValueError(f"{node.path}: a publication date is given only when the item is first published")
    if published_at.tzinfo is not None:
        published_at = published_at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if published_at > utcnow() or not date_in_range(published_at):
        raise ValueError(f"{node.path}: publication date {published_at.isoformat()} is in the future or out of range")
    return published_at


def set_state(request: Any, node: Node, target: str, transition_name: str, comment: str = "",
              published_at: dt.datetime | None = None) -> None:
    """Move a node to `target` and record it, with no check at all: `transition` checks the rules,
    set-up code calls this directly (e.g. to publish the standard pages of a new unit).
    `published_at` (naive UTC): the first publication date instead of now (see `transition`)."""
    source, now = node.state, utcnow()
    node.state = target
    node.version += 1
    if target == "published" and node.published is None:
        node.published = published_at or now  # the publication date is set once, at the first publish
    request.dbsession.add(WorkflowEvent(node_id=node.id, transition=transition_name, from_state=source,
                                        to_state=target, actor=actor(request), at=now, comment=comment))
    events.notify(request, events.WorkflowTransitioned(node, request, transition=transition_name,
                                                       from_state=source, to_state=target))
