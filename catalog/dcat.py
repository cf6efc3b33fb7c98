"""The catalogue as DCAT: `/catalog.{jsonld,ttl,rdf}` (the published catalogue, also per unit) and
`<dataset>/dcat.{jsonld,ttl,rdf}`, built with rdflib after the DCAT-AP mapping of ckanext-dcat.

So that a CKAN harvester (ckanext-dcat's `dcat_rdf_harvester`) and an EU-style portal read it
without a mapping of their own:
- IRIs are the portal's own pages: a dataset is its page (also its dcat:landingPage), a
  distribution its resource's page, the catalogue the `@@datasets` listing, a publisher its unit.
  A renamed dataset keeps working through the portal's redirects.
- dcat:theme: the EU data-theme IRI where one fits (vocabularies.THEME_EU, as DCAT-AP asks) and
  always the portal's own theme IRI, the listing filtered by that theme (it dereferences), as a
  skos:Concept with the Chinese label, which keeps 宏观经济 and 财政 apart.
- dct:accrualPeriodicity and dct:accessRights are the EU frequency and access-right IRIs;
  dct:license is the licence's URL (a dct:LicenseDocument node with its title when the licence
  has none), on the dataset and on each distribution (where DCAT-AP looks for it).
- dct:format and dcat:mediaType are plain literals ("CSV", "text/csv") as ckanext-dcat writes and
  reads them; dcat:byteSize is xsd:nonNegativeInteger (DCAT-AP 3).
- Files of a conditionally open dataset (有条件开放) get no dcat:downloadURL, as the page offers
  them only to staff: their dcat:accessURL is the resource page, which says whom to apply to.

The catalogue holds only what the public listing shows (portal.visibility.public_now), newest
change first, 1,000 datasets a page with ckanext-dcat's hydra paging (`?page=N` from 1; a page
that is not a whole number from 1 up, or past the last, is a 400 with the reason).
"""
from __future__ import annotations

import datetime as dt
import mimetypes
from typing import Any, Iterable

from pyramid.httpexceptions import HTTPBadRequest
from pyramid.response import Response
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD
from sqlalchemy import func, or_, select

from portal.i18n import _
from portal.models import Node, Portal, Unit
from portal.models.node import utcnow
from portal.views.pages import visible
from portal.visibility import public_now
from portal.workflow import PUBLIC_STATES

from . import vocabularies as v
from .dataset import Dataset
from .listing import unit_of_path
from .resource import Resource

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
PREFIXES: dict[str, Any] = {"dcat": DCAT, "dct": DCTERMS, "foaf": FOAF, "vcard": VCARD, "skos": SKOS,
                            "locn": LOCN, "hydra": HYDRA, "rdfs": RDFS, "xsd": XSD}
LANGUAGE = URIRef("http://publications.europa.eu/resource/authority/language/ZHO")
LANG = "zh"

# extension -> (rdflib serializer, media type)
FORMATS: dict[str, tuple[str, str]] = {
    "jsonld": ("json-ld", "application/ld+json"),
    "ttl": ("turtle", "text/turtle"),
    "rdf": ("xml", "application/rdf+xml"),
}
PAGE_SIZE = 1000
# Media types of the formats `mimetypes` does not know, or knows differently on some systems.
MEDIA_TYPES: dict[str, str] = {
    "CSV": "text/csv", "JSON": "application/json", "GEOJSON": "application/geo+json", "XML": "application/xml",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "XLS": "application/vnd.ms-excel",
}


def utc(value: dt.datetime) -> dt.datetime:
    """The database keeps naive UTC; the RDF says so."""
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def media_type(resource: Resource) -> str | None:
    """The stored file's type (checked from its content on upload), else the format's."""
    if isinstance(resource.file, dict) and resource.file.get("content_type"):
        return str(resource.file["content_type"])
    if not resource.format:
        return None
    return MEDIA_TYPES.get(resource.format) or mimetypes.types_map.get("." + resource.format.lower())


def theme_uri(request: Any, theme: str) -> URIRef:
    """The portal's IRI of a theme: the county-wide listing filtered by it."""
    return URIRef(request.resource_url(request.root, "@@datasets", query={"theme": theme}))


def text(value: str) -> Literal:
    return Literal(value, lang=LANG)


class Mapper:
    """Adds datasets to one graph; the nodes shared between datasets (themes, publishers,
    licences) are described once."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.graph = Graph()
        for prefix, ns in PREFIXES.items():
            self.graph.bind(prefix, ns)
        self.described: set[Any] = set()

    def add(self, s: Any, p: Any, o: Any) -> None:
        self.graph.add((s, p, o))

    def once(self, key: Any) -> bool:
        if key in self.described:
            return False
        self.described.add(key)
        return True

    def publisher(self, unit: Unit) -> URIRef:
        node = URIRef(self.request.resource_url(unit))
        if self.once(node):
            self.add(node, RDF.type, FOAF.Organization)
            self.add(node, RDF.type, FOAF.Agent)
            self.add(node, FOAF.name, text(unit.full_name or unit.title))
            self.add(node, FOAF.homepage, node)
        return node

    def licence(self, dataset: Dataset) -> Any:
        lic = dataset.licence
        if lic is None:
            return None
        node = URIRef(lic.url) if lic.url else BNode(f"licence-{lic.id}")
        if self.once(node):
            self.add(node, RDF.type, DCTERMS.LicenseDocument)
            self.add(node, RDFS.label, text(lic.title))
            self.add(node, DCTERMS.identifier, Literal(lic.id))
        return node

    def themes(self, s: URIRef, theme: str) -> None:
        own = theme_uri(self.request, theme)
        self.add(s, DCAT.theme, own)
        if self.once(own):
            self.add(own, RDF.type, SKOS.Concept)
            self.add(own, SKOS.prefLabel, text(theme))
        if theme in v.THEME_EU:
            self.add(s, DCAT.theme, URIRef(v.THEME_EU_URI + v.THEME_EU[theme]))

    def dataset(self, dataset: Dataset, resources: Iterable[Resource], unit: Unit | None) -> URIRef:
        request, add = self.request, self.add
        s = URIRef(request.resource_url(dataset))
        add(s, RDF.type, DCAT.Dataset)
        add(s, DCTERMS.title, text(dataset.title))
        if dataset.description:
            add(s, DCTERMS.description, text(dataset.description))
        add(s, DCAT.landingPage, s)
        add(s, DCTERMS.language, LANGUAGE)
        for keyword in dataset.keywords or []:
            add(s, DCAT.keyword, text(keyword))
        self.themes(s, dataset.theme)
        if unit is not None:
            add(s, DCTERMS.publisher, self.publisher(unit))
        self.contact_point(s, dataset, unit)
        if dataset.issued:
            add(s, DCTERMS.issued, Literal(utc(dataset.issued), datatype=XSD.dateTime))
        changed = max(d for d in (dataset.modified, dataset.issued) if d) if dataset.modified else None
        if changed:  # publishing is a change too: never modified before issued
            add(s, DCTERMS.modified, Literal(utc(changed), datatype=XSD.dateTime))
        add(s, DCTERMS.accrualPeriodicity,
            URIRef(v.FREQUENCY_URI + v.FREQUENCIES.get(dataset.update_frequency, "IRREG")))
        if dataset.temporal_start or dataset.temporal_end:
            period = BNode()
            add(s, DCTERMS.temporal, period)
            add(period, RDF.type, DCTERMS.PeriodOfTime)
            if dataset.temporal_start:
                add(period, DCAT.startDate, Literal(dataset.temporal_start, datatype=XSD.date))
            if dataset.temporal_end:
                add(period, DCAT.endDate, Literal(dataset.temporal_end, datatype=XSD.date))
        if dataset.spatial:
            place = BNode()
            add(s, DCTERMS.spatial, place)
            add(place, RDF.type, DCTERMS.Location)
            add(place, SKOS.prefLabel, text(dataset.spatial))
            add(place, LOCN.geographicName, text(dataset.spatial))
        licence = self.licence(dataset)
        if licence is not None:
            add(s, DCTERMS.license, licence)
        if dataset.open_class in v.ACCESS_RIGHTS:
            add(s, DCTERMS.accessRights, URIRef(v.ACCESS_RIGHTS_URI + v.ACCESS_RIGHTS[dataset.open_class]))
        for resource in resources:
            add(s, DCAT.distribution, self.distribution(dataset, resource, licence))
        return s

    def contact_point(self, s: URIRef, dataset: Dataset, unit: Unit | None) -> None:
        """The dataset's own contact, else its unit's (whom the page says to apply to)."""
        if dataset.contact_name or dataset.contact_phone or dataset.contact_email:
            name, phone, email, note = dataset.contact_name, dataset.contact_phone, dataset.contact_email, ""
        elif unit is not None:
            name, phone, email, note = unit.full_name or unit.title, "", "", unit.contact
        else:
            return
        node = BNode()
        self.add(s, DCAT.contactPoint, node)
        self.add(node, RDF.type, VCARD.Kind)
        if name:
            self.add(node, VCARD.fn, Literal(name))
        if email:
            self.add(node, VCARD.hasEmail, URIRef("mailto:" + email))
        if phone:
            self.add(node, VCARD.hasTelephone, URIRef("tel:" + "".join(c for c in phone if c not in " ()")))
        if note:
            self.add(node, VCARD.note, text(note))

    def distribution(self, dataset: Dataset, resource: Resource, licence: Any) -> URIRef:
        add, request = self.add, self.request
        page = URIRef(request.resource_url(resource))
        d = page
        add(d, RDF.type, DCAT.Distribution)
        add(d, DCTERMS.title, text(resource.title))
        if resource.description:
            add(d, DCTERMS.description, text(resource.description))
        conditional = dataset.open_class == v.CONDITIONAL
        if resource.file:
            add(d, DCAT.accessURL, page)
            if not conditional:
                add(d, DCAT.downloadURL, URIRef(request.resource_url(resource, "@@download", "file")))
        elif resource.url:
            if conditional:
                add(d, DCAT.accessURL, page)
            else:
                add(d, DCAT.accessURL, URIRef(resource.url))
                add(d, DCAT.downloadURL, URIRef(resource.url))
        if resource.format:
            add(d, DCTERMS.format, Literal(resource.format))
        mime = media_type(resource)
        if mime:
            add(d, DCAT.mediaType, Literal(mime))
        if resource.size is not None:
            add(d, DCAT.byteSize, Literal(resource.size, datatype=XSD.nonNegativeInteger))
        if licence is not None:
            add(d, DCTERMS.license, licence)
        if resource.published:
            add(d, DCTERMS.issued, Literal(utc(resource.published), datatype=XSD.dateTime))
        if resource.modified:
            add(d, DCTERMS.modified, Literal(utc(resource.modified), datatype=XSD.dateTime))
        return d


def respond(graph: Graph, extension: str) -> Response:
    serializer, mime = FORMATS[extension]
    if serializer == "json-ld":
        body = graph.serialize(format="json-ld", context={p: str(ns) for p, ns in PREFIXES.items()},
                               auto_compact=True)
    else:
        body = graph.serialize(format=serializer)
    return Response(body=body.encode("utf-8"), content_type=mime, charset="utf-8")


def page_number(request: Any) -> int:
    raw = request.params.get("page", "1").strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise HTTPBadRequest(_("The page of the catalogue must be a whole number from 1 up, not “${page}”.",
                               mapping={"page": raw[:20]}))
    return int(raw)


def public_resources(dbsession: Any, dataset_ids: list[int], now: dt.datetime) -> dict[int, list[Resource]]:
    """The resources the public may see now, by dataset (their datasets are public: the caller's
    condition), in one query."""
    by_dataset: dict[int, list[Resource]] = {i: [] for i in dataset_ids}
    if not dataset_ids:
        return by_dataset
    rows = dbsession.scalars(
        select(Resource).where(Resource.parent_id.in_(dataset_ids), Resource.state.in_(PUBLIC_STATES),
                               or_(Resource.effective.is_(None), Resource.effective <= now),
                               or_(Resource.expires.is_(None), Resource.expires > now))
        .order_by(Resource.position, Resource.id))
    for resource in rows:
        by_dataset[resource.parent_id].append(resource)
    return by_dataset


def catalogue_graph(request: Any, context: Node, extension: str) -> Graph:
    """One page of the published catalogue (county-wide, or a unit's) as a dcat:Catalog."""
    page = page_number(request)
    now = utcnow()
    db = request.dbsession
    conditions = [*public_now(now)]
    if isinstance(context, Unit):
        conditions.append(Node.path.like(f"{context.path}%"))
    total = db.scalar(select(func.count(Dataset.id)).where(*conditions)) or 0
    last = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    if page > last:
        raise HTTPBadRequest(_("The catalogue has ${pages} page(s) of ${size} datasets; there is no page ${page}.",
                               mapping={"pages": last, "size": PAGE_SIZE, "page": page}))
    datasets = db.scalars(select(Dataset).where(*conditions).order_by(Node.modified.desc(), Node.id.desc())
                          .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    resources = public_resources(db, [d.id for d in datasets], now)
    unit_paths = {unit_of_path(d.path) for d in datasets}
    units = {u.path: u for u in db.scalars(select(Unit).where(Unit.path.in_(unit_paths)))} if unit_paths else {}

    m = Mapper(request)
    translate = request.localizer.translate
    root: Portal = request.root
    catalog = URIRef(request.resource_url(context, "@@datasets"))
    m.add(catalog, RDF.type, DCAT.Catalog)
    if isinstance(context, Unit):
        name = context.full_name or context.title
        m.add(catalog, DCTERMS.title, text(translate(_("${name} open data catalogue", mapping={"name": name}))))
        m.add(catalog, DCTERMS.description, text(translate(_("Open datasets published by ${name} on ${site}",
                                                              mapping={"name": name, "site": root.title}))))
        m.add(catalog, DCTERMS.publisher, m.publisher(context))
    else:
        m.add(catalog, DCTERMS.title, text(translate(_("${name} open data catalogue", mapping={"name": root.title}))))
        m.add(catalog, DCTERMS.description, text(translate(_("Open datasets published by the units of ${site}",
                                                              mapping={"site": root.title}))))
        publisher = URIRef(request.resource_url(root))
        m.add(catalog, DCTERMS.publisher, publisher)
        m.add(publisher, RDF.type, FOAF.Organization)
        m.add(publisher, RDF.type, FOAF.Agent)
        m.add(publisher, FOAF.name, text(root.sponsor or root.title))
    m.add(catalog, FOAF.homepage, URIRef(request.resource_url(context)))
    m.add(catalog, DCTERMS.language, LANGUAGE)
    newest = db.scalar(select(func.max(Node.modified)).select_from(Dataset).where(*conditions))
    if newest is not None:
        m.add(catalog, DCTERMS.modified, Literal(utc(newest), datatype=XSD.dateTime))
    for dataset in datasets:
        s = m.dataset(dataset, resources[dataset.id], units.get(unit_of_path(dataset.path)))
        m.add(catalog, DCAT.dataset, s)

    def page_url(n: int) -> URIRef:
        return URIRef(request.resource_url(context, f"catalog.{extension}", query={"page": n}))

    # ckanext-dcat's paging: the page's own URL is the collection; both the Hydra terms and the
    # deprecated ones its older harvesters read.
    here = page_url(page)
    m.add(here, RDF.type, HYDRA.PagedCollection)
    m.add(here, RDF.type, HYDRA.PartialCollectionView)
    m.add(here, HYDRA.totalItems, Literal(total, datatype=XSD.integer))
    m.add(here, HYDRA.itemsPerPage, Literal(PAGE_SIZE, datatype=XSD.integer))
    links = [(HYDRA.first, HYDRA.firstPage, 1), (HYDRA.last, HYDRA.lastPage, last)]
    if page < last:
        links.append((HYDRA.next, HYDRA.nextPage, page + 1))
    if page > 1:
        links.append((HYDRA.previous, HYDRA.previousPage, page - 1))
    for term, old_term, n in links:
        m.add(here, term, page_url(n))
        m.add(here, old_term, page_url(n))
    return m.graph


def dataset_graph(request: Any, context: Dataset) -> Graph:
    """One dataset with the resources the request may see, as its page shows them."""
    resources = [r for r in visible(request, list(context.values())) if isinstance(r, Resource)]
    m = Mapper(request)
    m.dataset(context, resources, context.unit())
    return m.graph


def catalogue_view(extension: str) -> Any:
    def view(context: Node, request: Any) -> Response:
        return respond(catalogue_graph(request, context, extension), extension)
    return view


def dataset_view(extension: str) -> Any:
    def view(context: Dataset, request: Any) -> Response:
        return respond(dataset_graph(request, context), extension)
    return view


def includeme(config: Any) -> None:
    for extension in FORMATS:
        for context in (Portal, Unit):
            config.add_view(catalogue_view(extension), context=context, name=f"catalog.{extension}",
                            permission="view")
        config.add_view(dataset_view(extension), context=Dataset, name=f"dcat.{extension}", permission="view")
