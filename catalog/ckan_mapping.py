"""What a published dataset is in CKAN: the package dict the sender writes, and the same shape
read back from `package_show`, so that `ckan-sync --all` can tell whether CKAN holds what the
portal would send.

One organisation per unit (its URL name, with `catalog.ckan_org_prefix`); the package's name is
made once (`package_name`) and stored by the sender, so renaming or moving the dataset never
changes it. Extras carry what CKAN's core schema has no field for -- theme, open class, update
frequency, temporal and spatial coverage (`spatial_text`: ckanext-spatial reads `spatial` as
GeoJSON), contact and the portal uid, which proves a package ours when its name is found taken.
Files of a conditionally open (有条件开放) dataset are not uploaded: their resources link to the
portal's resource page, where staff download them and the public reads whom to apply to.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from portal.models import Node
from portal.schemas import to_local
from portal.workflow import PUBLIC_STATES, containers_public
from portal.models.node import utcnow

from .dataset import Dataset
from .resource import Resource

NAME_CHARS = re.compile(r"[^a-z0-9_-]+")
PORTAL_UID = "portal_uid"
PORTAL_HASH = "portal_hash"  # on an uploaded resource: the digest of the portal's file it holds
# CKAN stores a format under its own name for it (ckan/config/resource_formats.json); of the names
# an extension can give, these differ from it beyond case. Without them `ckan-sync --all` would
# rewrite every package with, say, a link to an .htm page, each time it runs.
CKAN_FORMATS = {"HTM": "HTML", "JPG": "JPEG", "IFB": "ICS", "ICAL": "ICS", "EXCEL": "XLS"}


@dataclass
class Upload:
    """A file the sender uploads as a resource: its portal uid, blob digest and name."""
    uid: str
    digest: str
    filename: str
    content_type: str


@dataclass
class Desired:
    """What the portal would send for one dataset: the package (resources included, uploads with
    the digest of their file) and the files to upload."""
    package: dict[str, Any]
    uploads: dict[str, Upload] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.package, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def public_now(node: Node, now: dt.datetime | None = None) -> bool:
    """The rule of `portal.visibility.public_now` for one loaded item."""
    now = now or utcnow()
    return (node.state in PUBLIC_STATES and (node.effective is None or node.effective <= now)
            and (node.expires is None or node.expires > now) and containers_public(node))


def ckan_name(text: str) -> str:
    """A valid CKAN name (2-100 of a-z, 0-9, - and _), or '' when nothing of `text` is."""
    name = NAME_CHARS.sub("-", text.lower()).strip("-_")[:100].strip("-_")
    return name if len(name) >= 2 else ""


def organization_name(prefix: str, dataset: Dataset) -> str:
    unit = dataset.unit()
    return ckan_name(prefix + (unit.name if unit else "portal")) or f"{prefix}unit-{unit.id if unit else 0}"


def package_name(dataset: Dataset) -> str:
    """Made once, when the dataset is first sent: its unit's and its own URL names."""
    unit = dataset.unit()
    return ckan_name(f"{unit.name if unit else 'portal'}-{dataset.name}") or f"dataset-{dataset.id}"


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        local = to_local(value)
        return local.date().isoformat() if local else ""
    return value.isoformat() if isinstance(value, dt.date) else ""


def _extras(dataset: Dataset) -> list[dict[str, str]]:
    values = {
        "theme": dataset.theme, "open_class": dataset.open_class, "update_frequency": dataset.update_frequency,
        "temporal_start": _date(dataset.temporal_start), "temporal_end": _date(dataset.temporal_end),
        "spatial_text": dataset.spatial or "", "contact_name": dataset.contact_name or "",
        "contact_phone": dataset.contact_phone or "", "contact_email": dataset.contact_email or "",
        "issued": _date(dataset.published), PORTAL_UID: str(dataset.id),
    }
    return [{"key": k, "value": str(v)} for k, v in sorted(values.items()) if v]


def page_url(portal_url: str, node: Node) -> str:
    return portal_url + node.path


def desired(dataset: Dataset, portal_url: str, org: str, name: str) -> Desired:
    """The package for `dataset` (which must be public now), its public resources in their order."""
    out = Desired(package={})
    resources = []
    children = sorted((c for c in dataset.children if isinstance(c, Resource) and public_now(c)),
                      key=lambda c: (c.position or 0, c.id))
    for resource in children:
        uid = str(resource.id)
        entry = {"name": resource.title or "", "description": resource.description or "",
                 "format": resource.format or "", PORTAL_UID: uid}
        file = resource.file if isinstance(resource.file, dict) else None
        if file and not dataset.conditional:
            entry.update(url_type="upload", **{PORTAL_HASH: file["hash"]})
            out.uploads[uid] = Upload(uid, file["hash"], str(file.get("filename") or f"resource-{uid}"),
                                      str(file.get("content_type") or "application/octet-stream"))
        elif file:
            entry["url"] = page_url(portal_url, resource)
        else:
            entry["url"] = resource.url
        resources.append(entry)
    out.package = {
        "name": name, "title": dataset.title or "", "notes": dataset.description or "",
        "tags": [{"name": k} for k in dataset.keywords or []], "license_id": dataset.license,
        "owner_org": org, "url": page_url(portal_url, dataset),
        "maintainer": dataset.contact_name or "", "maintainer_email": dataset.contact_email or "",
        "extras": _extras(dataset), "resources": resources,
    }
    return out


def _format(value: Any) -> str:
    name = str(value or "").upper()
    return CKAN_FORMATS.get(name, name)


def comparable(package: dict[str, Any]) -> dict[str, Any]:
    """The parts of a package the portal owns, in one shape whether it is what the portal would
    send or what `package_show` returned (which adds ids, dates and CKAN's own keys, turns the
    organisation name into its id and an upload's name into its download URL)."""
    org = package.get("organization") or {}
    resources = []
    for r in package.get("resources") or []:
        entry = {"name": r.get("name") or "", "description": r.get("description") or "",
                 "format": _format(r.get("format")), PORTAL_UID: str(r.get(PORTAL_UID) or "")}
        if r.get("url_type") == "upload":
            entry["upload"] = str(r.get(PORTAL_HASH) or "")
        else:
            entry["url"] = r.get("url") or ""
        resources.append(entry)
    return {
        "name": package.get("name"), "title": package.get("title") or "", "notes": package.get("notes") or "",
        "tags": sorted(t.get("name") for t in package.get("tags") or []),
        "license_id": package.get("license_id") or "",
        "owner_org": org.get("name") if isinstance(org, dict) and org.get("name") else package.get("owner_org"),
        "url": package.get("url") or "", "maintainer": package.get("maintainer") or "",
        "maintainer_email": package.get("maintainer_email") or "",
        "extras": sorted((e.get("key"), str(e.get("value"))) for e in package.get("extras") or []),
        "state": package.get("state", "active"), "resources": resources,
    }
