"""Who may see an item, decided once: the lineage walk of local roles, the principals that may view
an item (search's `allowed` field), and "public now" as SQL (every public listing).

Two rules of `portal.workflow` reach all three: an item is public only while every container
above it is (`containers_public`), and ownership counts only while the owner holds a writing role
there (`ownership_counts`).

The security policy (`portal.security`) answers for one request and one item; search and the
listings need the same answer for many items at once, so they take it from here instead of
deriving it again. A test compares `viewers` with the policy over the permission matrix.
"""
from __future__ import annotations

import datetime as dt
import functools
from typing import Any, Iterable, Mapping, Sequence

from pyramid.authorization import Authenticated
from sqlalchemy import event, inspect, or_, select
from sqlalchemy.orm import Session, aliased

from .models import Group, LocalRole, Node, User
from .models.node import utcnow
from .workflow import PUBLIC_STATES, STATES, ownership_counts, role_principal, view_roles

Grants = Mapping[int, Iterable[tuple[str, str]]]  # node id -> (principal, role) granted there
NON_PUBLIC_STATES = tuple(state for state in STATES if state not in PUBLIC_STATES)


def role_chain(node: Node, lineage: Sequence[Node] | None = None) -> list[Node]:
    """The nodes whose local roles apply to `node`: itself and its parents, up to and including
    the first that blocks inheritance. `lineage` (node first) saves the parent loads of a bulk caller."""
    chain: list[Node] = []
    for n in node.lineage() if lineage is None else lineage:
        chain.append(n)
        if not n.inherit_roles:
            break
    return chain


def local_grants(dbsession: Any, nodes: Iterable[Node], principals: Iterable[str] | None = None) -> dict[int, list[tuple[str, str]]]:
    """The local roles granted on `nodes` (to `principals` only, if given), in one query."""
    ids = {n.id for n in nodes}
    grants: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    if not ids:
        return grants
    query = select(LocalRole.node_id, LocalRole.principal, LocalRole.role).where(LocalRole.node_id.in_(ids))
    if principals is not None:
        query = query.where(LocalRole.principal.in_(tuple(principals)))
    for node_id, principal, role in dbsession.execute(query):
        grants[node_id].append((principal, role))
    return grants


_MEMBERSHIPS_KEY = "portal.visibility.memberships"


@event.listens_for(Session, "after_flush")
def _forget_memberships(session: Session, _flush_context: Any) -> None:
    """A flush may have changed someone's groups: `memberships` reads them again."""
    session.info.pop(_MEMBERSHIPS_KEY, None)


def memberships(dbsession: Any, logins: Iterable[str]) -> dict[str, tuple[set[str], set[str]]]:
    """login -> (the principals that stand for the user: itself, its groups and every logged-in
    user (`Authenticated`, which local roles may name too); its global roles).

    Kept in the session until its next flush: a rebuild of the index asks about the same few
    owners for every document, and nothing it does changes a membership."""
    cache: dict[str, tuple[set[str], set[str]]] = dbsession.info.setdefault(_MEMBERSHIPS_KEY, {})
    missing = {login for login in logins if login not in cache}
    if missing:
        for login in missing:
            cache[login] = ({f"user:{login}", Authenticated}, set())
        rows = dbsession.execute(select(User.login, Group.name, Group.roles)
                                 .join(User.groups).where(User.login.in_(missing)))
        for login, group, roles in rows:
            cache[login][0].add(f"group:{group}")
            cache[login][1].update(roles.split())
    return {login: cache[login] for login in logins}


def owner_roles(dbsession: Any, node: Node, chain: Sequence[Node], grants: Grants) -> set[str]:
    """The roles the owner of `node` holds there, besides ownership: global ones through groups,
    and local ones granted on the `chain` to them or to one of their groups."""
    if not node.owner:
        return set()
    principals, roles = memberships(dbsession, [node.owner])[node.owner]
    roles = set(roles)
    for n in chain:
        roles.update(role for principal, role in grants.get(n.id, ()) if principal in principals)
    return roles


def viewers(dbsession: Any, node: Node, lineage: Sequence[Node] | None = None,
            grants: Grants | None = None) -> list[str]:
    """The principals that may view `node` in its state, as the security policy decides.

    Its state names roles (`portal.workflow.view_roles`, which also hides a published item below a
    container that is not public); a role becomes the principals holding it: `role:<R>` for the
    groups' global roles, the owner for Owner while ownership counts (`ownership_counts`), and
    every user or group granted R locally on the node or a parent (`role_chain`). The
    effective/expiry window is not here: search applies it at query time, so time passing needs
    no reindex. A bulk caller passes the `lineage` (node first) and the `grants` it already holds.
    """
    if lineage is None:
        lineage = list(node.lineage())
    roles = set(view_roles(node, lineage))
    principals = {role_principal(r) for r in roles if r != "Owner"}
    chain = role_chain(node, lineage)
    if grants is None:
        grants = local_grants(dbsession, chain)
    for n in chain:
        principals.update(principal for principal, role in grants.get(n.id, ()) if role in roles)
    if "Owner" in roles and node.owner and ownership_counts(owner_roles(dbsession, node, chain, grants)):
        principals.add(f"user:{node.owner}")
    return sorted(principals)


def _container_types() -> list[str]:
    """The polymorphic identities of the types that hold other items."""
    return [m.polymorphic_identity for m in inspect(Node).self_and_descendants if m.class_.folderish]


def hidden_below_containers() -> Any:
    """SQL: the ids of every node below a container (not the root) whose state is not public --
    `portal.workflow.containers_public` for a whole table at once.

    A recursive CTE down `parent_id`, computed once per statement: it starts from the containers
    that are not public (read through the state index: a few) and visits what is inside them, so
    a listing of 100,000 published items pays one hash lookup per row, not a walk of its parents
    (a correlated NOT EXISTS over path prefixes cost a scan of every draft for every row)."""
    return _hidden_below(tuple(_container_types()))


@functools.lru_cache(maxsize=8)
def _hidden_below(container_types: tuple[str, ...]) -> Any:
    """Built once per set of container types: SQL constructs are immutable, and aliasing the
    polymorphic Node costs about 4 ms, paid by every listing of a page before (9 on a unit home)."""
    container, child = aliased(Node), aliased(Node)
    hidden = (select(container.id.label("id"))
              .where(container.type.in_(container_types), container.state.in_(NON_PUBLIC_STATES),
                     container.parent_id.is_not(None))
              .cte(recursive=True))
    hidden = hidden.union_all(select(child.id).where(child.parent_id == hidden.c.id))
    return select(hidden.c.id)


def public_children_now(container: Node, now: dt.datetime | None = None) -> list[Any]:
    """SQL conditions: the public children of `container` now. When the container and everything
    above it is public, nothing above a child hides it, so the recursive search of hidden subtrees
    (`hidden_below_containers`) is left out: a column's page or box then reads its rows from the
    (parent_id, published) index alone."""
    lineage_public = all(n.parent_id is None or n.state in PUBLIC_STATES for n in container.lineage())
    return [Node.parent_id == container.id, *public_now(now, below_hidden=not lineage_public)]


def public_in_itself(state: str, effective: dt.datetime | None, expires: dt.datetime | None,
                     now: dt.datetime | None = None) -> bool:
    """What `public_now(below_hidden=False)` asks of one row, in Python: its state and dates. For a
    few rows read through their parents, known to be public (the site map's columns), where the
    same condition in SQL has the database walk every published item instead (SQLite, without
    statistics, prefers the state's index to the parents' ids)."""
    now = now or utcnow()
    return (state in PUBLIC_STATES and (effective is None or effective <= now)
            and (expires is None or expires > now))


def public_now(now: dt.datetime | None = None, below_hidden: bool = True) -> list[Any]:
    """SQL conditions: published and within the effective and expiry dates (naive UTC `now`), and
    not below a container that is not public (`hidden_below_containers`)."""
    now = now or utcnow()
    conditions = [Node.state.in_(PUBLIC_STATES), or_(Node.effective.is_(None), Node.effective <= now),
                  or_(Node.expires.is_(None), Node.expires > now)]
    if below_hidden:  # (False: the caller knows no container above the rows is hidden)
        conditions.append(Node.id.not_in(hidden_below_containers()))
    return conditions
