"""JSON bodies in: parsed, type-checked against the type's colander schema, then deserialised.

The schemas are the ones of the HTML forms, where every value arrives as text. JSON has types, and
colander is lenient with them (`Int` takes `true` and `"5"` and `5.7`, `String` takes `[]` as
"missing"), so each value is checked against its schema node's type first and refused with a
field error, never coerced and never a 500.

A key the item does not have is refused with a 400 naming it, never dropped in silence. The keys
GET returns besides the fields (`@id`, `review_state`, `items`, …) are accepted and left alone, so
that an item read with GET can be sent back with a change, and so are the computed columns (a
disclosure's `index_number`); a field of the type that its form does not take here (a column's
dates) may come back unchanged only.
plone.restapi's `text` is the type's rich-text field (api.richtext).

PATCH is partial: only the fields in the body are deserialised and saved; the schema's cross-field
validator (e.g. expiry after effective date) still sees the whole resulting item. A file field
that is left out, or sent back as the object GET returned, keeps its file; a list of files (the
disclosure attachments) is replaced by the list sent, where items GET returned keep their file.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

import colander

from ..content import NOT_TEXT, load_value, valid_text
from ..i18n import _
from ..models import Node
from ..registry import TypeInfo
from ..uploads import Upload, clean_title
from .errors import APIError, field_error, invalid
from .richtext import TEXT, text_field, text_in
from .serialize import ITEM_KEYS, blob_url, field_value, is_blob, read_only

UNKNOWN_FIELD = _("Unknown field")

UPLOAD_KEYS = ("data", "encoding", "filename", "content-type", "title")  # title: of an attachment
TEXT_TYPES = (colander.String, colander.Date, colander.DateTime, colander.Time)


def read_body(request: Any, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object ({} when empty and not required)."""
    if not request.body:
        if required:
            raise APIError(400, _("Send the item as a JSON object"))
        return {}
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise APIError(400, _("The request body is not valid JSON")) from None
    if not isinstance(data, dict):
        raise APIError(400, _("The request body must be a JSON object"))
    where = invalid_text(data)
    if where is not None:
        raise APIError(400, _("Some fields are not valid text"), [field_error(request, where, NOT_TEXT)])
    return data


def refuse_unknown(request: Any, body: dict[str, Any], known: Any) -> None:
    """A 400 naming every key of `body` that is not in `known`."""
    unknown = [key for key in body if key not in known]
    if unknown:
        raise APIError(400, _("The request has fields that are not known here"),
                       [field_error(request, key, UNKNOWN_FIELD) for key in unknown])


def known_fields(info: TypeInfo, schema: colander.SchemaNode) -> set[str]:
    """The keys an item of this type may be sent with: its schema's fields, `text` when it has a
    rich-text field, and what GET returns besides (not written)."""
    known = {child.name for child in schema.children} | set(info.factory.fields) | set(read_only(info.factory))
    if text_field(info) is not None:
        known.add(TEXT)
    return known | ITEM_KEYS


def invalid_text(value: Any) -> str | None:
    """The path (`title`, `attachments.0.filename`) of a text in a JSON value that is not
    valid Unicode, or None. JSON's `"\\ud800"` (a lone surrogate) parses into a str that neither
    database can store and no page can encode: found here, every endpoint refuses it by name.
    Iterative: a body nested as deep as the JSON parser allows must not exhaust the stack here."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not valid_text(item):
                return path or None
            continue
        if isinstance(item, dict):
            children = list(item.items())
        elif isinstance(item, list):
            children = [(str(i), v) for i, v in enumerate(item)]
        else:
            continue
        for key, child in reversed(children):
            name = key if valid_text(key) else key.encode("utf-8", "backslashreplace").decode("ascii")
            where = f"{path}.{name}" if path else name
            if not valid_text(key):
                return where
            stack.append((where, child))
    return None


class TypeChecker:
    """Turns JSON values into colander cstructs, collecting an error per wrongly typed field."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.errors: list[dict[str, Any]] = []

    def fail(self, path: str, message: Any) -> Any:
        self.errors.append(field_error(self.request, path, message))
        return colander.null

    def check(self, node: colander.SchemaNode, value: Any, path: str) -> Any:
        if value is None:
            return colander.null
        typ = node.typ
        if isinstance(typ, Upload):
            return self.upload(value, path)
        if isinstance(typ, TEXT_TYPES):
            return value if isinstance(value, str) else self.fail(path, _("Must be text"))
        if isinstance(typ, colander.Boolean):
            return value if isinstance(value, bool) else self.fail(path, _("Must be true or false"))
        if isinstance(typ, colander.Int):
            ok = isinstance(value, int) and not isinstance(value, bool)
            return value if ok else self.fail(path, _("Must be a whole number"))
        if isinstance(typ, (colander.Float, colander.Decimal)):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            return value if ok else self.fail(path, _("Must be a number"))
        if isinstance(typ, colander.Set):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            return value if ok else self.fail(path, _("Must be a list of texts"))
        if isinstance(typ, colander.Sequence):
            if not isinstance(value, list):
                return self.fail(path, _("Must be a list"))
            child = node.children[0]
            if isinstance(child.typ, Upload) and not all(isinstance(v, dict) for v in value):
                return self.fail(path, _("Must be a list of files"))
            return [self.check(child, v, f"{path}.{i}") for i, v in enumerate(value)]
        if isinstance(typ, colander.Mapping):
            if not isinstance(value, dict):
                return self.fail(path, _("Must be an object"))
            prefix = f"{path}." if path else ""
            return {c.name: self.check(c, value[c.name], prefix + c.name) for c in node.children if c.name in value}
        return value

    def upload(self, value: Any, path: str) -> Any:
        """Only plone.restapi's file object: no other key reaches portal.uploads.Upload."""
        message = _('Must be a file: {"data": "<base64>", "encoding": "base64", "filename": "…", '
                    '"content-type": "…"}')
        if not isinstance(value, dict) or not isinstance(value.get("data"), str):
            return self.fail(path, message)
        if any(not isinstance(value.get(k, ""), str) for k in UPLOAD_KEYS):
            return self.fail(path, message)
        clean = {k: value[k] for k in UPLOAD_KEYS if k in value}
        if "content-type" in clean:  # a bare media type: 'image/svg+xml; charset=utf-8' is still SVG
            clean["content-type"] = clean["content-type"].split(";")[0].strip().lower()
        return clean


def same_url(a: Any, b: str) -> bool:
    return isinstance(a, str) and urlsplit(a).path.rstrip("/") == urlsplit(b).path.rstrip("/")


def keep_files(request: Any, node: Node, schema: colander.SchemaNode, body: dict[str, Any]) -> dict[str, Any]:
    """Take the files sent back as GET returned them out of the body: {field: {position: ref}}.

    A single file field sent back unchanged is dropped from the body (it keeps its file).
    """
    kept: dict[str, Any] = {}
    for child in schema.children:
        value = body.get(child.name)
        current = getattr(node, child.name, None)
        if isinstance(child.typ, Upload) and isinstance(value, dict) and "data" not in value:
            if is_blob(current) and same_url(value.get("download"), blob_url(request, node, child.name)):
                del body[child.name]
        elif (isinstance(child.typ, colander.Sequence) and child.children
              and isinstance(child.children[0].typ, Upload) and isinstance(value, list)):
            refs = {blob_url(request, node, f"{child.name}/{i}"): ref
                    for i, ref in enumerate(current or []) if is_blob(ref)}
            positions: dict[int, Any] = {}
            for i, item in enumerate(value):
                if isinstance(item, dict) and "data" not in item:
                    url = next((u for u in refs if same_url(item.get("download"), u)), None)
                    if url is not None:  # kept, with the title sent (an attachment's title may change)
                        title = item.get("title")
                        positions[i] = ({**refs[url], "title": clean_title(title, refs[url]["filename"])}
                                        if isinstance(title, str) else refs[url])
            if positions:
                kept[child.name] = (positions, len(value))
                body[child.name] = [item for i, item in enumerate(value) if i not in positions]
    return kept


def put_back(appstruct: dict[str, Any], kept: dict[str, Any]) -> None:
    for name, (positions, length) in kept.items():
        new = iter(appstruct.get(name) or [])
        appstruct[name] = [positions[i] if i in positions else next(new) for i in range(length)]


def current_values(node: Node) -> dict[str, Any]:
    """The item as its next save would start from: the waiting draft, else the columns."""
    values = {name: getattr(node, name) for name in node.fields}
    if node.draft:
        values.update({k: load_value(type(node), k, v) for k, v in node.draft.items()})
    for name, value in values.items():
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            values[name] = value.replace(tzinfo=dt.timezone.utc)
    return values


def refuse_read_only(request: Any, info: TypeInfo, schema: colander.SchemaNode, body: dict[str, Any],
                     node: Node | None) -> None:
    """A field of the type that its form does not take (the dates of a column, which other types
    have) may be sent back as GET gave it, not changed: a 400 naming it, rather than nothing.
    Computed columns (a disclosure's 索引号, a resource's detected format) are the item's
    description, like `modified`: they are left alone."""
    fixed = set(info.factory.fields) - {child.name for child in schema.children}
    changed = [name for name in body if name in fixed and (
        node is None or body[name] != field_value(request, node, name, getattr(node, name)))]
    if changed:
        raise APIError(400, _("Some fields cannot be changed"),
                       [field_error(request, name, _("This field cannot be changed here")) for name in changed])


def deserialize(request: Any, info: TypeInfo, body: dict[str, Any], node: Node | None = None) -> dict[str, Any]:
    """The appstruct for `content.create` (node None) or for a partial `content.save` of `node`."""
    schema = info.schema(request, node)
    refuse_unknown(request, body, known_fields(info, schema))
    refuse_read_only(request, info, schema, body, node)
    current = getattr(node, text_field(info) or "", None) if node is not None else None
    body = {k: v for k, v in text_in(request, info, body, current).items() if k in schema}
    kept: dict[str, Any] = {}
    if node is not None:
        kept = keep_files(request, node, schema, body)
        for child in list(schema.children):
            if child.name not in body:
                del schema[child.name]
    checker = TypeChecker(request)
    cstruct = checker.check(schema, body, "")
    if checker.errors:
        raise APIError(400, _("Some fields have the wrong type"), checker.errors)
    try:
        appstruct = schema.deserialize(cstruct)
    except colander.Invalid as e:
        raise invalid(request, e) from None
    if node is None:
        return appstruct
    appstruct = {k: v for k, v in appstruct.items() if k in body}
    put_back(appstruct, kept)
    whole = info.schema(request, node)
    if whole.validator is not None:
        try:
            whole.validator(whole, {**current_values(node), **appstruct})
        except colander.Invalid as e:
            raise invalid(request, e) from None
    return appstruct
