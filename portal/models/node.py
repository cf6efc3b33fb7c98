"""The content tree: one `nodes` table, joined-table inheritance per type (Kotti's idea on SQLAlchemy 2)."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar, Iterator

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, func, select)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from .meta import Base


def new_uid() -> str:
    """plone.restapi's `UID`: 32 hexadecimal digits (a UUID4), made once, never reused."""
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    """Naive UTC, as stored in every DateTime column."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Node(Base):
    """A place in the tree. `path` ends with '/', so a subtree is `path LIKE '<path>%'`."""

    __tablename__ = "nodes"
    # (parent_id, position): a container's children in their order, and the next position, from
    # the index alone however many there are
    __table_args__ = (UniqueConstraint("parent_id", "name"), Index("ix_nodes_state", "state"),
                      Index("ix_nodes_parent_position", "parent_id", "position"),
                      # public listings, newest first: a column's children; what is published
                      # anywhere (walked until enough lie below a unit or the site)
                      Index("ix_nodes_parent_published", "parent_id", "published"),
                      Index("ix_nodes_state_published", "state", "published"),
                      # one type's public items newest first (the 信息公开目录, the catalogue), and
                      # the containers that are not public
                      Index("ix_nodes_type_state_published", "type", "state", "published"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # The stable identifier clients keep (plone.restapi's `UID`); `id` is the database's.
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    type: Mapped[str] = mapped_column(String(50))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str | None] = mapped_column(String(100))
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    effective: Mapped[dt.datetime | None] = mapped_column(DateTime)
    expires: Mapped[dt.datetime | None] = mapped_column(DateTime)
    published: Mapped[dt.datetime | None] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(30), default="private")
    inherit_roles: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # A change of a published item that waits for review; the public keeps seeing the columns.
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    draft_by: Mapped[str | None] = mapped_column(String(100))
    draft_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    parent: Mapped[Node | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Node]] = relationship(
        back_populates="parent", order_by=position, cascade="all, delete-orphan", passive_deletes=True)

    __mapper_args__ = {
        "polymorphic_on": type,
        "polymorphic_identity": "Node",
        "version_id_col": version,
        "version_id_generator": False,
    }

    # What a type says about itself; see portal.registry for the rest of its type info.
    folderish: ClassVar[bool] = False
    # Editable attributes kept in revisions and exchanged by the API, in form order.
    fields: ClassVar[tuple[str, ...]] = ("title", "description", "effective", "expires")

    @property
    def __name__(self) -> str:  # noqa: A003 - traversal protocol
        return self.name

    @property
    def __parent__(self) -> Node | None:
        return self.parent

    @property
    def __acl__(self) -> list[Any]:
        from ..workflow import acl_for  # the workflow owns the state -> ACL map
        return acl_for(self)

    def __repr__(self) -> str:
        return f"<{self.type} {self.path!r}>"

    def __getitem__(self, name: str) -> Node:
        session = object_session(self)
        child = session.scalar(select(Node).where(Node.parent_id == self.id, Node.name == name)) if session else None
        if child is None:
            raise KeyError(name)
        return child

    def get(self, name: str, default: Node | None = None) -> Node | None:
        return next((c for c in self.children if c.name == name), default)

    def keys(self) -> list[str]:
        return [c.name for c in self.children]

    def values(self) -> list[Node]:
        return list(self.children)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def lineage(self) -> Iterator[Node]:
        node: Node | None = self
        while node is not None:
            yield node
            node = node.parent

    def add(self, child: Node, name: str) -> Node:
        """Attach `child` under this node as `name`, at the end of the order.

        In a session, the next position is one query and the children stay unloaded: a column of
        20,000 items must not be loaded to add the 20,001st."""
        child.name = name
        child.path = f"{self.path}{name}/"
        session = object_session(self)
        if session is not None and self.id is not None and "children" not in self.__dict__:
            last = session.scalar(select(func.max(Node.position)).where(Node.parent_id == self.id))
            child.position = (last if last is not None else -1) + 1
            child.parent = self  # the backref queues it for an unloaded collection without loading it
            session.add(child)  # (the collection's cascade does not reach it unloaded)
        else:
            child.position = max((c.position for c in self.children), default=-1) + 1
            self.children.append(child)
        return child

    def has_child(self, name: str) -> bool:
        """Whether a child is named `name` (one query in a session, not a load of every child)."""
        session = object_session(self)
        if session is None or self.id is None or "children" in self.__dict__:
            return name in self.keys()
        return session.scalar(select(Node.id).where(Node.parent_id == self.id, Node.name == name).limit(1)) is not None

    def is_public_now(self, now: dt.datetime | None = None) -> bool:
        """Within its effective and expiry dates (the workflow state is checked by the ACL)."""
        now = now or utcnow()
        if self.effective and self.effective > now:
            return False
        if self.expires and self.expires <= now:
            return False
        return True

    def unit(self) -> Unit | None:
        for node in self.lineage():
            if isinstance(node, Unit):
                return node
        return None


# A page of every child for staff, newest first with drafts by their last change
# (portal.views.pages.all_children), read in order instead of sorting every child.
Index("ix_nodes_parent_newest", Node.parent_id, func.coalesce(Node.published, Node.modified))


class Portal(Node):
    """The root, and the site settings shown in every page footer."""

    __tablename__ = "portals"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    site_code: Mapped[str] = mapped_column(String(50), default="")  # 网站标识码
    sponsor: Mapped[str] = mapped_column(String(200), default="")  # 主办单位
    icp: Mapped[str] = mapped_column(String(100), default="")  # ICP备案
    police_record: Mapped[str] = mapped_column(String(100), default="")  # 公安备案
    contact: Mapped[str] = mapped_column(String(500), default="")
    conac_code: Mapped[str] = mapped_column(String(50), default="")  # 党政机关网站标识 (its number at conac.cn)
    __mapper_args__ = {"polymorphic_identity": "Portal", "polymorphic_load": "selectin"}
    folderish = True
    fields = ("title", "description", "site_code", "sponsor", "icp", "police_record", "contact", "conac_code")


class Unit(Node):
    """A unit's sub-site: a town, a county department, a community, a service centre."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    short_name: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(20), default="其他")
    org_code: Mapped[str] = mapped_column(String(50), unique=True)
    contact: Mapped[str] = mapped_column(String(500), default="")
    banner: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # its header picture
    __mapper_args__ = {"polymorphic_identity": "Unit", "polymorphic_load": "selectin"}
    folderish = True
    fields = ("title", "description", "full_name", "short_name", "kind", "org_code", "contact", "banner")

    # in the order the navigation and the forms show them
    KINDS: ClassVar[tuple[str, ...]] = ("乡镇", "县直部门", "其他", "社区", "便民服务中心")
