"""`@types` (the types, and which may be added here) and `@types/<type>` (the JSON schema of a
type's form, as plone.restapi gives it), plus the `types` entry of `@components`.

The JSON schema is generated from the type's colander schema -- the one the add and edit forms
and the API's own checks use -- so a field is described once: its JSON type from the colander
type, `maxLength`/`minimum`/... from its validators, a fixed list of values as `enum` (with the
vocabulary that lists them, api.vocabularies), its widget and `factory` as plone.restapi names
them, and its fieldset (`fieldset=` on the schema node, see portal.schemas.FIELDSETS). The
rich-text field is listed as `text` (api.richtext). `@types/Document` is Page's schema: the
names of `TypeInfo.aliases` are accepted wherever a type is named.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import colander
import deform
from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound
from pyramid.view import view_config

from ..models import Node
from ..registry import TypeInfo, addable_types, content_types, find_type
from ..schemas import FIELDSETS
from ..uploads import Upload
from .components import endpoint_url, expandable
from .errors import json_response
from .richtext import TEXT, text_field
from .vocabularies import one_of, vocabulary_url

SCHEMA_TYPE = "application/json+schema"


def validators(node: colander.SchemaNode) -> list[Any]:
    found, pending = [], [node.validator]
    while pending:
        validator = pending.pop()
        if isinstance(validator, colander.All):
            pending += list(validator.validators)
        elif validator is not None:
            found.append(validator)
    return found


def kind(node: colander.SchemaNode) -> dict[str, Any]:
    """The JSON type, plone.restapi's `factory` and `widget` of a field, from its colander type."""
    typ, widget = node.typ, getattr(node, "widget", None)
    if isinstance(typ, Upload):
        return {"type": "object", "factory": "Image" if typ.image else "File",
                "widget": "image" if typ.image else "file"}
    if isinstance(typ, colander.Boolean):
        return {"type": "boolean", "factory": "Yes/No"}
    if isinstance(typ, colander.Int):
        return {"type": "integer", "factory": "Integer"}
    if isinstance(typ, (colander.Float, colander.Decimal)):
        return {"type": "number", "factory": "Floating-point number"}
    if isinstance(typ, colander.DateTime):
        return {"type": "string", "format": "date-time", "factory": "Date/Time", "widget": "datetime"}
    if isinstance(typ, colander.Date):
        return {"type": "string", "format": "date", "factory": "Date", "widget": "date"}
    if isinstance(typ, colander.Set):
        return {"type": "array", "uniqueItems": True, "items": {"type": "string"}, "factory": "Set"}
    if isinstance(widget, deform.widget.RichTextWidget):
        return {"type": "string", "factory": "Rich Text", "widget": "richtext"}
    if isinstance(widget, deform.widget.TextAreaWidget):
        return {"type": "string", "factory": "Text", "widget": "textarea"}
    return {"type": "string", "factory": "Text line (String)"}


def field_schema(request: Any, info: TypeInfo, node: colander.SchemaNode) -> dict[str, Any]:
    translate = request.localizer.translate
    out: dict[str, Any] = {"title": translate(node.title), "description": translate(node.description or "")}
    if isinstance(node.typ, colander.Sequence):
        out.update(type="array", factory="List", items=field_schema(request, info, node.children[0]))
        return out
    out.update(kind(node))
    values = one_of(node)
    if values is not None:
        out.update(factory="Choice", enum=list(values), enumNames=[str(v) for v in values],
                   choices=[[v, str(v)] for v in values],
                   vocabulary={"@id": vocabulary_url(request, f"{info.name}.{node.name}")})
    for validator in validators(node):
        if isinstance(validator, colander.Length):
            out.update({k: v for k, v in (("minLength", validator.min), ("maxLength", validator.max)) if v})
        elif isinstance(validator, colander.Range):
            out.update({k: v for k, v in (("minimum", validator.min), ("maximum", validator.max)) if v is not None})
    if isinstance(node.default, (str, int, bool)) and node.default not in (colander.null, ""):
        out["default"] = node.default
    return out


def json_schema(request: Any, info: TypeInfo) -> dict[str, Any]:
    """plone.restapi's schema of a type: `properties`, `required`, `fieldsets`, `layouts`."""
    rich = text_field(info)
    properties: dict[str, Any] = {}
    required: list[str] = []
    groups: dict[str, list[str]] = {}
    for node in info.schema(request, None).children:
        name = TEXT if node.name == rich else node.name
        properties[name] = field_schema(request, info, node)
        if node.required:
            required.append(name)
        groups.setdefault(getattr(node, "fieldset", "default"), []).append(name)
    translate = request.localizer.translate
    fieldsets = [{"id": group, "title": translate(FIELDSETS.get(group, group)), "fields": names}
                 for group, names in sorted(groups.items(), key=lambda g: g[0] != "default")]
    return {"title": translate(info.title), "type": "object", "properties": properties, "required": required,
            "fieldsets": fieldsets, "layouts": [PurePosixPath(info.template.split(":")[-1]).stem]}


@expandable("types")
def type_list(request: Any, node: Node) -> list[dict[str, Any]]:
    """Every type; `addable` here by this user (the add permission where it may go), and
    `immediately_addable` where the placement rule files it here rather than in a column.
    For logged-in users only, as in plone.restapi."""
    if request.identity is None:
        raise HTTPForbidden()
    here = {info.name for info in addable_types(request, node)}
    return [{"@id": f"{endpoint_url(request, node, 'types')}/{name}", "id": name,
             "title": request.localizer.translate(info.title),
             "addable": info.addable_in(node) and bool(request.has_permission(info.add_permission, node)),
             "immediately_addable": name in here}
            for name, info in content_types(request.registry).items()]


@view_config(context=Node, name="@types", request_method="GET", permission="view")
def types(context: Node, request: Any) -> Any:
    if len(request.subpath) > 1:
        raise HTTPNotFound()
    if request.identity is None:
        raise HTTPForbidden()
    if not request.subpath:
        return json_response(type_list(request, context))
    info = find_type(request.registry, request.subpath[0])
    if info is None:
        raise HTTPNotFound()
    response = json_response(json_schema(request, info))
    response.content_type = SCHEMA_TYPE
    return response
