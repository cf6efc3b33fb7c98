"""Who may see an item, decided once: the lineage walk of local roles, the principals that may view
an item (search's `allowed` field), and "public now" as SQL (every public listing).

The security policy (`portal.security`) answers for one request and one item; search and the
listings need the same answer for many items at once, so they take it from here instead of
deriving it again. A test compares `viewers` with the policy over the permission matrix.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import or_, select

from .models import LocalRole, Node
from .models.node import utcnow
from .workflow import role_principal, view_roles

Grants = Mapping[int, Iterable[tuple[str, str]]]  # node id -> (principal, role) granted there


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


def viewers(dbsession: Any, node: Node, lineage: Sequence[Node] | None = None,
            grants: Grants | None = None) -> list[str]:
    """The principals that may view `node` in its state, as the security policy decides.

    Its state names roles (`portal.workflow.view_roles`); a role becomes the principals holding
    it: `role:<R>` for the groups' global roles, the owner for Owner, and every user or group
    granted R locally on the node or a parent (`role_chain`). The effective/expiry window is not
    here: search applies it at query time, so time passing needs no reindex. A bulk caller
    passes the `lineage` (node first) and the `grants` it already holds.
    """
    roles = set(view_roles(node))
    principals = {role_principal(r) for r in roles if r != "Owner"}
    if "Owner" in roles and node.owner:
        principals.add(f"user:{node.owner}")
    chain = role_chain(node, lineage)
    if grants is None:
        grants = local_grants(dbsession, chain)
    for n in chain:
        principals.update(principal for principal, role in grants.get(n.id, ()) if role in roles)
    return sorted(principals)


def public_now(now: dt.datetime | None = None) -> list[Any]:
    """SQL conditions: published and within the effective and expiry dates (naive UTC `now`)."""
    now = now or utcnow()
    return [Node.state == "published", or_(Node.effective.is_(None), Node.effective <= now),
            or_(Node.expires.is_(None), Node.expires > now)]

