"""Where things go: the standard columns (栏目) of every unit, the placement rule of the add menu,
and `portal standard-columns`, which gives existing units their columns and files their loose items.

Every unit has 新闻动态, 通知公告, 政策文件 and 政府信息公开, of the column kinds the supervision
rules read (动态, 通知公告, 政策文件, 信息公开). They come with the unit (`ObjectAdded`, like its
信息公开指南), published, so the public sees them as soon as the unit is public. Their URL names
are the short pinyin initials Chinese government sites use (xwdt, tzgg, zcwj, xxgk): the unit's
catalogue stays at `/<unit>/@@xxgk` (a view name, which the `@@` keeps apart from the column
`/<unit>/xxgk/`), and its guide stays at `/<unit>/xxgkzn/`.

A type says which column kinds its items belong in (`TypeInfo.belongs_in`, the first being where
loose items are filed); `placement` turns that into what the add menu offers: in a column, the
types of its kind; on a unit's root, "新闻 → 新闻动态" entries leading to the columns. Adding a
news item at a unit's root is not refused (`portal.content.check_add`): the API and scripts that
did so keep working, and this command files such items again.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import object_session

from portal import content
from portal.events import ObjectAdded, SiteSetUp
from portal.models import Node, Unit
from portal.registry import TypeInfo, type_info
from portal.slugs import free_name

from .folder import COLUMN_KINDS, OTHER_KIND, Folder

PUBLISH_COMMENT = "标准栏目，随单位子站创建"


@dataclass(frozen=True)
class StandardColumn:
    name: str
    title: str
    kind: str
    # Days between updates, from the State Council office's 政府网站与政务新媒体检查指标: 动态、要闻类
    # columns are stale after two weeks, 通知公告 and 政策文件 after six months. (None: no rule.)
    update_interval: int | None


STANDARD_COLUMNS: tuple[StandardColumn, ...] = (
    StandardColumn("xwdt", "新闻动态", "动态", 14),
    StandardColumn("tzgg", "通知公告", "通知公告", 183),
    StandardColumn("zcwj", "政策文件", "政策文件", 183),
    StandardColumn("xxgk", "政府信息公开", "信息公开", None),
)
assert all(c.kind in COLUMN_KINDS for c in STANDARD_COLUMNS)


def find_column(unit: Node, spec: StandardColumn) -> Folder | None:
    """The unit's column for `spec`: the folder of its name, else a folder of its title and kind
    (a unit that made its own 通知公告 column before keeps it)."""
    node = unit.get(spec.name)
    if isinstance(node, Folder):
        return node
    return next((c for c in unit.values()
                 if isinstance(c, Folder) and c.title == spec.title and c.column_kind == spec.kind), None)


def standard_column(unit: Node, kind: str) -> Folder | None:
    """The unit's standard column of `kind` (for the demo and the filing of loose items)."""
    spec = next((c for c in STANDARD_COLUMNS if c.kind == kind), None)
    return find_column(unit, spec) if spec is not None else None


def filing_column(unit: Node, info: TypeInfo) -> Folder | None:
    """Where a loose item of this type at the unit's root goes: the standard column of the first
    kind it belongs in that the unit has."""
    for kind in info.belongs_in:
        column = standard_column(unit, kind)
        if column is not None:
            return column
    return None


def create_columns(request: Any, unit: Node) -> list[Folder]:
    """Make the unit's missing standard columns, published and first in its order (set-up work of
    the portal: `unrestricted`, as the decision to have the unit was the one checked)."""
    made = []
    for spec in STANDARD_COLUMNS:
        if find_column(unit, spec) is not None:
            continue
        name = spec.name if spec.name not in unit.keys() else free_name(unit, spec.name)
        column = content.create(request, unit, "Folder", {"title": spec.title, "column_kind": spec.kind,
                                                          "update_interval": spec.update_interval},
                                name=name, unrestricted=True)
        content.set_state(request, column, "published", "publish", PUBLISH_COMMENT)
        made.append(column)
    if made and len(unit.children) > len(made):
        standard = [find_column(unit, spec) for spec in STANDARD_COLUMNS]
        content.reorder(request, unit, [c.name for c in standard if c is not None], unrestricted=True)
    return made


def on_unit_added(event: ObjectAdded) -> None:
    if isinstance(event.node, Unit) and event.request is not None:
        create_columns(event.request, event.node)


# -- the placement rule ----------------------------------------------------------------------------

def placement(container: Node, info: TypeInfo) -> Sequence[Node] | None:
    """`portal.registry.PlacementRule`: a type with column kinds goes into a column of one of them
    (or any 其他 column); elsewhere in a container, into its columns of those kinds -- offered on
    the container only while it has none. Types without kinds go anywhere they are addable."""
    if not info.belongs_in:
        return None
    if isinstance(container, Folder):
        return [container] if container.column_kind in (*info.belongs_in, OTHER_KIND) else []
    # only the container's columns are read (the root has a hundred units besides)
    columns = list(object_session(container).scalars(select(Folder).where(
        Folder.parent_id == container.id, Folder.column_kind.in_(info.belongs_in))))
    columns.sort(key=lambda c: (info.belongs_in.index(c.column_kind), c.position))
    return columns or None


# -- bringing existing units up to date ---------------------------------------------------------

@dataclass
class UnitPlan:
    unit: Unit
    missing: list[StandardColumn] = field(default_factory=list)
    moves: list[tuple[Node, str]] = field(default_factory=list)  # (loose item, column kind)

    @property
    def empty(self) -> bool:
        return not self.missing and not self.moves


def plan(request: Any, unit: Unit) -> UnitPlan:
    """What `standard_columns` would do to one unit (nothing is written)."""
    result = UnitPlan(unit, missing=[spec for spec in STANDARD_COLUMNS if find_column(unit, spec) is None])
    kinds = {spec.kind for spec in STANDARD_COLUMNS}
    for child in unit.values():
        info = type_info(request.registry, child.type)
        if info is None or child.folderish:
            continue
        kind = next((k for k in info.belongs_in if k in kinds), None)
        if kind is not None:
            result.moves.append((child, kind))
    return result


def apply(request: Any, unit_plan: UnitPlan) -> None:
    """Create the missing columns, then move each loose item into its column through
    `portal.content.move_to` (redirects from the old URL, search reindexed, history)."""
    unit = unit_plan.unit
    create_columns(request, unit)
    for node, kind in unit_plan.moves:
        column = standard_column(unit, kind)
        if column is not None:
            content.move_to(request, node, column, unrestricted=True)


def units(request: Any) -> list[Unit]:
    return list(request.dbsession.scalars(select(Unit).order_by(Node.path)))


def standard_columns(request: Any, dry_run: bool = False, progress: bool = False) -> list[UnitPlan]:
    """Give every unit its standard columns and file its loose items (idempotent: a second run
    finds nothing to do). Returns the plans of the units that needed something."""
    todo = units(request)
    if progress:
        from tqdm import tqdm
        todo = tqdm(todo, desc="units", unit="unit")
    done = []
    for unit in todo:
        unit_plan = plan(request, unit)
        if unit_plan.empty:
            continue
        if not dry_run:
            apply(request, unit_plan)
        done.append(unit_plan)
    return done


def describe(plans: list[UnitPlan], dry_run: bool) -> list[str]:
    """Lines for the operator: one per unit changed, and a total."""
    lines = []
    for p in plans:
        parts = []
        if p.missing:
            parts.append("columns " + ", ".join(spec.title for spec in p.missing))
        if p.moves:
            parts.append(f"{len(p.moves)} loose items filed")
        lines.append(f"{p.unit.path}\t{p.unit.title}: {'; '.join(parts)}")
    columns = sum(len(p.missing) for p in plans)
    moved = sum(len(p.moves) for p in plans)
    verb = "would create" if dry_run else "created"
    lines.append(f"standard columns: {verb} {columns} columns in {len(plans)} units, "
                 f"{'would move' if dry_run else 'moved'} {moved} items")
    return lines


def on_site_set_up(event: SiteSetUp) -> None:
    """`portal init`: existing units get what new units get (idempotent)."""
    plans = standard_columns(event.request)
    if plans:
        event.notes.extend(describe(plans, dry_run=False))


def cmd_standard_columns(args: argparse.Namespace) -> None:
    from portal.cli import script_request

    with script_request(args.config) as request:
        plans = standard_columns(request, dry_run=args.dry_run, progress=True)  # a dry run writes nothing
        lines = describe(plans, args.dry_run)
    print("\n".join(lines))


def register(sub: Any) -> None:
    """Entry point of the `portal.commands` group: adds `portal -c INI standard-columns`."""
    command = sub.add_parser("standard-columns", help="give every unit its standard columns and move its loose "
                                                      "news and disclosure documents into them (idempotent)")
    command.add_argument("--dry-run", action="store_true", help="only say what would be done")
    command.set_defaults(func=cmd_standard_columns)


def includeme(config: Any) -> None:
    config.add_subscriber(on_unit_added, ObjectAdded)
    config.add_subscriber(on_site_set_up, SiteSetUp)
    config.set_placement(placement)
