"""Dataset: one open dataset of a unit (数据集), its metadata after the issue's JSON names, and its page.

`issued` is the first publication (the core's `published`, set once) and `modified` the core's
own column, so neither is typed by an editor. Resources are the dataset's children (catalog.resource).
"""
from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace
from typing import Any

import colander
import deform
from sqlalchemy import JSON, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.i18n import _
from portal.models import Node
from portal.registry import TypeInfo, info_for
from portal.schemas import base_schema, choice, local_date, text_line
from portal.views.pages import visible

from . import vocabularies as v

PHONE = re.compile(r"[0-9+()\- ]{5,40}")
# what CKAN's e-mail validator refuses beyond colander's: a dot first, last or doubled
EMAIL_DOTS = re.compile(r"^(?!\.)(?!.*\.$)(?!.*\.\.).*$")


class Dataset(Node):
    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    theme: Mapped[str] = mapped_column(String(20), default=v.THEMES[-1], index=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    license: Mapped[str] = mapped_column(String(50), default=v.DEFAULT_LICENCE)
    open_class: Mapped[str] = mapped_column(String(10), default=v.OPEN, index=True)
    update_frequency: Mapped[str] = mapped_column(String(10), default="不定期")
    temporal_start: Mapped[dt.date | None] = mapped_column(Date)
    temporal_end: Mapped[dt.date | None] = mapped_column(Date)
    spatial: Mapped[str] = mapped_column(String(200), default=v.DEFAULT_SPATIAL)
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    __mapper_args__ = {"polymorphic_identity": "Dataset", "polymorphic_load": "selectin"}
    folderish = True
    fields = ("title", "description", "theme", "keywords", "license", "open_class", "update_frequency",
              "temporal_start", "temporal_end", "spatial", "contact_name", "contact_phone", "contact_email")

    @property
    def issued(self) -> dt.datetime | None:
        """The first publication: the portal keeps it, set once (portal.content.set_state)."""
        return self.published

    @property
    def keyword_text(self) -> str:
        """The keywords as searchable text (TypeInfo.text_fields takes text)."""
        return " ".join(self.keywords or [])

    @property
    def conditional(self) -> bool:
        return self.open_class == v.CONDITIONAL

    @property
    def licence(self) -> v.Licence | None:
        return v.LICENCE_BY_ID.get(self.license)


class Keywords(colander.SchemaType):
    """A list of keywords: a list of strings from the API, one text line (split on commas, 、 and
    semicolons) from the form; each must be a tag CKAN accepts (vocabularies.KEYWORD)."""

    def serialize(self, node: colander.SchemaNode, appstruct: Any) -> Any:
        if not isinstance(appstruct, (list, tuple)):
            return colander.null
        return "，".join(appstruct)

    def deserialize(self, node: colander.SchemaNode, cstruct: Any) -> Any:
        if cstruct is colander.null or cstruct is None:
            return colander.null
        if isinstance(cstruct, str):
            parts = re.split(r"[,，、;；\n]+", cstruct)
        elif isinstance(cstruct, list) and all(isinstance(p, str) for p in cstruct):
            parts = cstruct
        else:
            raise colander.Invalid(node, _("Keywords must be a list of words"))
        words = list(dict.fromkeys(" ".join(p.split()) for p in parts if p.strip()))
        for word in words:
            if not v.KEYWORD.fullmatch(word):
                raise colander.Invalid(node, _("Keyword “${word}”: 2 to 100 letters, digits, spaces, "
                                               "“-”, “_” or “.”", mapping={"word": word[:100]}))
        if len(words) > v.MAX_KEYWORDS:
            raise colander.Invalid(node, _("At most ${n} keywords", mapping={"n": v.MAX_KEYWORDS}))
        return words


def check_phone(node: colander.SchemaNode, value: str) -> None:
    if value and not PHONE.fullmatch(value):
        raise colander.Invalid(node, _("Not a telephone number"))


def check_temporal(node: colander.SchemaNode, value: dict[str, Any]) -> None:
    start, end = value.get("temporal_start"), value.get("temporal_end")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
        exc = colander.Invalid(node)
        exc["temporal_end"] = _("The end of the time coverage must not be before its start")
        raise exc


def schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s["description"].title = _("Data summary")
    s.add(choice(_("Data domain"), v.THEMES, name="theme"))
    # The edit form's values leave lists out (portal.views.edit.form_values, for file lists), so
    # the current keywords (a waiting draft's first) come in as the field's default.
    draft = getattr(node, "draft", None) or {}
    current = draft.get("keywords", getattr(node, "keywords", None)) if node is not None else None
    s.add(colander.SchemaNode(Keywords(), name="keywords", title=_("Keywords"), missing=colander.drop,
                              default=list(current) if isinstance(current, list) else colander.null,
                              widget=deform.widget.TextInputWidget(),
                              description=_("Separated by commas; each becomes a tag of the open-data catalogue")))
    s.add(colander.SchemaNode(colander.String(), name="license", title=_("Licence"), missing=v.DEFAULT_LICENCE,
                              validator=colander.OneOf([lic.id for lic in v.LICENCES]),
                              widget=deform.widget.SelectWidget(values=[(lic.id, lic.title) for lic in v.LICENCES])))
    s.add(choice(_("Open class"), v.OPEN_CLASSES, name="open_class", missing=v.OPEN,
                 description=_("Conditionally open: everyone sees the description and the resource list, "
                               "only logged-in staff download the files")))
    s.add(choice(_("Update frequency"), tuple(v.FREQUENCIES), name="update_frequency", missing="不定期"))
    s.add(local_date(_("Time coverage from"), name="temporal_start"))
    s.add(local_date(_("Time coverage to"), name="temporal_end"))
    s.add(text_line(_("Spatial coverage"), name="spatial", missing=v.DEFAULT_SPATIAL))
    s.add(text_line(_("Contact person"), name="contact_name", max_length=100))
    s.add(text_line(_("Contact telephone"), name="contact_phone", max_length=40, validator=check_phone))
    s.add(text_line(_("Contact e-mail"), name="contact_email",
                    validator=colander.All(colander.Email(_("Not an e-mail address")),
                                           colander.Regex(EMAIL_DOTS, _("Not an e-mail address")))))
    s.validator = check_temporal
    return s


def contact(dataset: Dataset) -> SimpleNamespace:
    """Whom to ask about the dataset (and to apply to for a conditionally open one): its own
    contact, else its unit's."""
    if dataset.contact_name or dataset.contact_phone or dataset.contact_email:
        return SimpleNamespace(name=dataset.contact_name, phone=dataset.contact_phone, email=dataset.contact_email,
                               text="")
    unit = dataset.unit()
    return SimpleNamespace(name=unit.full_name or unit.title if unit else "", phone="", email="",
                           text=unit.contact if unit else "")


def dataset_view(context: Dataset, request: Any) -> dict[str, Any]:
    from .resource import Resource, may_download
    from .preview import preview

    resources = [r for r in visible(request, context.values()) if isinstance(r, Resource)]
    rows = []
    for resource in resources:
        allowed = may_download(request, resource)
        rows.append(SimpleNamespace(
            node=resource, format=resource.format, size=resource.size, downloads=resource.downloads or 0,
            allowed=allowed, url=resource.url or None,
            download=request.resource_url(resource, "@@download", "file") if resource.file else None,
            preview=preview(request, resource) if allowed and resource.previewable else None))
    unit = context.unit()
    return {"info": info_for(request.registry, context), "resources": rows, "contact": contact(context), "licence": context.licence,
            "unit": unit, "ckan": ckan_status(request, context), "frequency_uri": v.FREQUENCY_URI + v.FREQUENCIES.get(context.update_frequency, "IRREG")}


CKAN_STATES = {
    "off": _("Not republished to the open-data catalogue (CKAN): republishing is off, or the dataset is not public"),
    "pending": _("Waiting to be sent to the open-data catalogue (CKAN)"),
    "synced": _("Republished to the open-data catalogue (CKAN)"),
    "error": _("The open-data catalogue (CKAN) refused this dataset"),
    "withdrawn": _("Withdrawn from the open-data catalogue (CKAN)"),
}


def ckan_status(request: Any, dataset: Dataset) -> SimpleNamespace | None:
    """Where the dataset stands in CKAN, for those who may edit it (the page's editors' box)."""
    if not request.has_permission("edit", dataset):
        return None
    from .ckan_outbox import status
    data = status(request, dataset)
    synced_at = data.pop("synced_at")
    synced = dt.datetime.fromisoformat(synced_at) if synced_at else None
    return SimpleNamespace(**data, synced_at=synced, text=CKAN_STATES[data["state"]])


def index(node: Node) -> dict[str, Any]:
    return {"keywords": list(getattr(node, "keywords", None) or [])}


def api_extra(request: Any, node: Node) -> dict[str, Any]:
    """Where the dataset stands in CKAN (catalog.ckan_outbox.status)."""
    from .ckan_outbox import status
    return {"ckan": status(request, node)}


def includeme(config: Any) -> None:
    config.add_content_type(TypeInfo("Dataset", _("Dataset"), Dataset, schema, addable_to=("Unit", "Folder"),
                                     template="themes:default/templates/dataset.pt", view=dataset_view,
                                     text_fields=("keyword_text",), index=index, api_extra=api_extra))
