"""Add and edit forms, generated from each type's colander schema (one pair of views for all types).

portal.content decides whether a change may be made; these views show its refusals: a
ContentError next to its field (a value another item holds: the unique value's field), a Conflict
(the item changed since the form was loaded, also when the database caught the race) as a 409 with
the form kept, a Forbidden as the 403 page (portal.views.errors).
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import colander
import deform
from pyramid.csrf import get_csrf_token
from pyramid.httpexceptions import HTTPBadRequest, HTTPForbidden, HTTPFound
from pyramid.view import view_config
from sqlalchemy import select

from .. import content
from ..content import Conflict, ContentError
from ..i18n import _
from ..models import Node
from ..registry import content_types, info_for
from ..schemas import to_local
from ..visibility import public_now
from ..uploads import keep_uploads
from . import flash, template


def make_form(request: Any, schema: colander.SchemaNode, button: Any, version: int | None = None) -> deform.Form:
    schema = schema.clone()
    offer_unit_images(request, schema)
    schema.add(colander.SchemaNode(colander.String(), name="csrf_token", widget=deform.widget.HiddenWidget(),
                                   default=get_csrf_token(request), missing=""))
    if version is not None:
        schema.add(colander.SchemaNode(colander.Int(), name="_version", widget=deform.widget.HiddenWidget(),
                                       default=version, missing=None))
    return deform.Form(schema, buttons=(deform.Button("save", button),
                                        deform.Button("cancel", _("Cancel"), css_class="btn-link")),
                       formid="content-form")


IMAGE_LIST_LIMIT = 200


def offer_unit_images(request: Any, schema: colander.SchemaNode) -> None:
    """Every rich-text field's image dialog offers the images of the unit being edited
    (`@@image-list`): editors put their own unit's pictures in a text, not pictures from elsewhere."""
    url = request.resource_url(request.context, "@@image-list")
    for node in schema.children:
        if isinstance(node.widget, deform.widget.RichTextWidget):
            node.widget = copy.copy(node.widget)  # the type's schema may share its widget
            node.widget.options = {**(node.widget.options or {}), "image_list": url}


def image_refs(node: Node, fields: tuple[str, ...]) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """(the `@@images` subpath: field, and index in a list field; blob reference) of the item's
    stored images: a reference with a width is an image (portal.images measured it), whatever the
    type."""
    found = []
    for name in fields:
        value = getattr(node, name, None)
        refs = [((name, str(i)), ref) for i, ref in enumerate(value)] if isinstance(value, list) else [((name,), value)]
        found += [(subpath, ref) for subpath, ref in refs if isinstance(ref, dict) and "width" in ref and "hash" in ref]
    return found


@view_config(context=Node, name="image-list", permission="view", renderer="json")
def image_list_view(context: Node, request: Any) -> Any:
    """TinyMCE's `image_list`: the images of the context's unit (or of the portal's own pages
    outside units) that the user may view, newest first, as [{title, value}], value being the
    `large` scale's URL. Public ones first: an image not yet published shows in the public page only
    once it is, which its title says. Only for those who may add or edit here."""
    if not (request.has_permission("add", context) or request.has_permission("edit", context)):
        raise HTTPForbidden()
    unit = context.unit() if context.parent is not None else None
    prefix = unit.path if unit is not None else "/"
    types = {name: info.file_fields for name, info in content_types(request.registry).items() if info.file_fields}
    if not types:
        return []
    public = set(request.dbsession.scalars(select(Node.id).where(
        Node.path.like(f"{prefix}%"), Node.type.in_(types), *public_now())))
    nodes = request.dbsession.scalars(select(Node).where(Node.path.like(f"{prefix}%"), Node.type.in_(types))
                                      .order_by(Node.modified.desc()).limit(IMAGE_LIST_LIMIT)).all()
    unpublished = request.localizer.translate(_("(not published yet)"))
    choices: list[tuple[bool, dict[str, str]]] = []
    for node in nodes:
        if not request.has_permission("view", node):
            continue
        for subpath, ref in image_refs(node, types[node.type]):
            title = node.title if ref.get("title") is None else f"{node.title} - {ref['title']}"
            if node.id not in public:
                title = f"{title} {unpublished}"
            url = request.resource_url(node, "@@images", *subpath, "large")
            choices.append((node.id not in public, {"title": title, "value": url}))
    choices.sort(key=lambda c: c[0])  # stable: public first, each part newest first
    return [choice for _unpublished, choice in choices]


def form_values(node: Node) -> dict[str, Any]:
    """What the edit form starts from: the waiting draft if there is one, else the item."""
    values = {name: getattr(node, name) for name in node.fields}
    if node.draft:
        values.update({k: content.load_value(type(node), k, v) for k, v in node.draft.items()})
    for name, value in values.items():
        if name in ("effective", "expires"):
            values[name] = to_local(value)
    return {k: v for k, v in values.items() if v is not None and not isinstance(v, (dict, list))}


# What every form page loads before its widgets' own resources: deform's widget scripts call
# jQuery and deform.addCallback inline, and deform.js runs their callbacks (deform.load()) once the
# page has loaded. deform 3 ships jQuery but no widget asks for it.
BASE_SCRIPTS = ("deform:static/scripts/jquery-2.0.3.min.js", "deform:static/scripts/deform.js")
# Widget scripts that need a translation loaded right after them (the asset spec of both).
TRANSLATIONS = {"deform:static/pickadate/legacy.js": "deform:static/pickadate/translations/zh_CN.js"}


def asset_urls(request: Any, form: deform.Form) -> dict[str, list[str]]:
    """The URLs of the form's scripts and styles, in load order, each once.

    deform gives asset specifications (`deform:static/...`); static_url maps them onto the
    `static-deform` view (portal.forms), so they must not be prefixed again.
    """
    resources = form.get_widget_resources()
    scripts: list[str] = []
    for spec in (*BASE_SCRIPTS, *resources["js"]):
        scripts += [spec, TRANSLATIONS[spec]] if spec in TRANSLATIONS else [spec]
    return {"js": [request.static_url(spec) for spec in dict.fromkeys(scripts)],
            "css": [request.static_url(spec) for spec in dict.fromkeys(resources["css"])]}


def render(request: Any, form: deform.Form, html: str, title: Any) -> dict[str, Any]:
    return {"form": html, "title": title, "resources": asset_urls(request, form)}


def field_error(form: deform.Form, error: ContentError) -> str:
    """Show a ContentError next to its field (or at the top) by re-validating the form's values."""
    exc = colander.Invalid(form.schema, error.message)
    if error.field and error.field in form.schema:
        exc[error.field] = error.message
    form.widget.handle_error(form, exc)
    return form.render()


def submit(request: Any, context: Node, form: deform.Form, title: Any, apply: Callable[[dict[str, Any]], Any]) -> Any:
    """Handle a posted form: cancel, or validate and `apply`; errors re-show the form and roll the
    request back (so an upload of a refused form leaves no blob; the files that passed their own
    checks wait in the upload stash, portal.uploads.keep_uploads). None when nothing was posted."""
    if "cancel" in request.POST:
        return HTTPFound(request.resource_url(context))
    if "save" not in request.POST:
        return None
    try:
        appstruct = form.validate(request.POST.items())
    except deform.ValidationFailure as e:
        request.tm.doom()
        keep_uploads(form)
        return render(request, form, e.render(), title)
    try:
        return apply(appstruct)
    except ContentError as e:
        request.tm.doom()
        keep_uploads(form)
        return render(request, form, field_error(form, e), title)


@view_config(context=Node, name="add", permission="add", renderer=template("form.pt"))
def add_view(context: Node, request: Any) -> Any:
    try:  # before the form: the form is the type's
        info = content.check_add(request, context, request.params.get("type", ""))
    except ContentError as e:
        raise HTTPBadRequest(request.localizer.translate(e.message)) from None
    title = _("Add ${type}", mapping={"type": request.localizer.translate(info.title)})
    form = make_form(request, info.schema(request, None), _("Save"))
    form.action = request.resource_url(context, "@@add", query={"type": info.name})

    def create(appstruct: dict[str, Any]) -> Any:
        node = content.create(request, context, info.name, appstruct)
        flash(request, _("Created. It is private until it is submitted and published."))
        return HTTPFound(request.resource_url(node))

    return submit(request, context, form, title, create) or render(request, form, form.render(), title)


@view_config(context=Node, name="edit", permission="edit", renderer=template("form.pt"))
def edit_view(context: Node, request: Any) -> Any:
    info = info_for(request.registry, context)
    title = _("Edit ${title}", mapping={"title": context.title})
    form = make_form(request, info.schema(request, context), _("Save"), version=context.version)
    form.action = request.resource_url(context, "@@edit")

    def save(appstruct: dict[str, Any]) -> Any:
        try:
            outcome = content.save(request, context, appstruct, expected_version=appstruct.get("_version"))
        except Conflict:  # nothing is written: the other save stays, this one is still in the form
            # (the version the form was loaded with, or the database's version check at flush)
            request.tm.doom()
            request.response.status = 409
            keep_uploads(form)  # the form as it was sent, its new files kept
            return {**render(request, form, form.render(), title), "conflict": True}
        flash(request, _("Saved. The change waits for review; the public still sees the published version.")
              if outcome == "draft" else _("Saved."))
        return HTTPFound(request.resource_url(context))

    return submit(request, context, form, title, save) or render(request, form, form.render(form_values(context)),
                                                                 title)
