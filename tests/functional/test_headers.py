"""The Content-Security-Policy of every page (portal/headers.py): script only from our origin or
inline with the response's nonce, no plugins, framing and form posts only to ourselves; everything
that is not a page is sandboxed. Every inline script the portal or deform writes carries the nonce."""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import colander
import deform
import lxml.html
import pytest
from pyramid.request import Request, apply_request_extensions
from pyramid.threadlocal import manager

from portal.headers import PAGE_POLICY, RESOURCE_POLICY
from tests.conftest import api_token, login, unit
from tests.functional.test_api import add, png, upload

THEMES = Path(resources.files("themes"))
DEFORM_TEMPLATES = Path(resources.files("deform")) / "templates"
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]{22,})'")


def page_nonce(res: Any) -> str:
    """The nonce of a page's policy, after checking the policy is exactly PAGE_POLICY."""
    policy = res.headers["Content-Security-Policy"]
    match = NONCE.search(policy)
    assert match, policy
    assert policy == PAGE_POLICY.format(nonce=match.group(1))
    return match.group(1)


def assert_scripts_carry(html: str, nonce: str) -> int:
    """Every inline script has the nonce; no event-handler attribute or javascript: URL anywhere."""
    doc = lxml.html.fromstring(html)
    inline = [s for s in doc.iter("script") if not s.get("src")]
    assert all(s.get("nonce") == nonce for s in inline), [lxml.html.tostring(s)[:120] for s in inline]
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        handlers = [a for a in element.attrib if a.lower().startswith("on")]
        assert not handlers, (element.tag, handlers)
        for attribute in ("href", "src", "action", "formaction"):
            assert not (element.get(attribute) or "").strip().lower().startswith("javascript:")
    return len(inline)


def test_the_page_policy() -> None:
    directives = dict(d.strip().split(" ", 1) for d in PAGE_POLICY.split(";"))
    assert directives["script-src"] == "'self' 'nonce-{nonce}'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'self'"
    assert directives["base-uri"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert "nonce" not in directives["style-src"]  # a nonce there would switch off 'unsafe-inline'


@pytest.fixture
def items(testapp: Any, dbsession: Any, users: Any) -> dict[str, str]:
    """One item of every type in 黄梅镇, by the API; their paths."""
    editor = api_token(testapp, "editor")
    town = unit(dbsession, "黄梅镇").path
    made = {
        "Folder": add(testapp, editor, town, "Folder", title="工作动态", column_kind="动态", update_interval=7),
        "Page": add(testapp, editor, town, "Page", title="办事指南", body="<p>正文</p>"),
        "News": add(testapp, editor, town, "News", title="镇政府召开会议", lead_image=upload(png(), "会议.png", "image/png")),
        "Disclosure": add(testapp, editor, town, "Disclosure", title="关于春耕的通知", subject="综合政务", genre="通知",
                          attachments=[upload(b"%PDF-1.4 plan", "方案.pdf")]),
        "File": add(testapp, editor, town, "File", file=upload(b"%PDF-1.4 x", "通知.pdf")),
        "Image": add(testapp, editor, town, "Image", title="镇容镇貌", image=upload(png(), "镇容.png")),
    }
    testapp.reset()
    return {name: item["@id"].removeprefix("http://example.com") + "/" for name, item in made.items()}


def test_every_page_type_has_the_policy_and_its_nonce(testapp: Any, dbsession: Any, items: dict[str, str]) -> None:
    town = unit(dbsession, "黄梅镇").path
    seen: set[str] = set()
    scripts = 0

    def check(path: str, status: int | str = 200) -> None:
        nonlocal scripts
        res = testapp.get(path, status=status)
        assert res.content_type == "text/html", path
        nonce = page_nonce(res)
        assert nonce not in seen, "a nonce was used twice"
        seen.add(nonce)
        scripts += assert_scripts_carry(res.text, nonce)

    for path in ("/", town, "/@@login", f"/@@search?q={quote('春耕')}", f"{town}@@search?q={quote('会议')}", "/@@xxgk", f"{town}@@xxgk",
                 "/no-such-page/"):
        check(path, status="*")
    login(testapp, "manager")
    for path in items.values():
        check(path)
        check(f"{path}@@edit")
        check(f"{path}@@history")
    for view in ("@@contents", "@@sharing", "@@edit"):
        check(town + view)
    for type_name in items:
        check(f"{town}@@add?type={type_name}")
    for view in ("/@@review-queue", "/@@my-items"):
        check(view)
    assert scripts > 0, "no inline script was checked: deform's widgets write some on the add forms"


def test_forbidden_and_error_pages_have_the_policy(testapp: Any, dbsession: Any, users: Any) -> None:
    login(testapp, "other-editor")
    res = testapp.get(unit(dbsession, "黄梅镇").path + "@@edit", status="*")
    assert res.status_int in (403, 404)
    page_nonce(res)


def test_what_is_not_a_page_is_sandboxed(testapp: Any, dbsession: Any, users: Any) -> None:
    town = unit(dbsession, "黄梅镇").path
    for res in (testapp.get(town, headers={"Accept": "application/json"}),
                testapp.post_json("/@login", {"login": "editor", "password": "wrong"}, status="*"),
                testapp.get("/static/portal.css"),
                testapp.get("/static-deform/css/form.css")):
        assert res.headers["Content-Security-Policy"] == RESOURCE_POLICY, res.request.path
        assert res.headers["X-Content-Type-Options"] == "nosniff"


def test_redirects_have_the_headers(testapp: Any, dbsession: Any) -> None:
    res = testapp.get(unit(dbsession, "黄梅镇").path + "@@edit", status="*")
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in res.headers


# -- deform's widget templates --------------------------------------------------------------------

HANDLER = re.compile(r"\s+on[a-z]+=\"[^\"]*\"")
OUR_BLOCK = re.compile(r"\n *// portal:.*?// /portal", re.S)


def scripted_templates() -> list[str]:
    """deform's templates with an inline script or an inline event handler: the policy blocks both."""
    return sorted(p.name for p in DEFORM_TEMPLATES.glob("*.pt")
                  if "<script" in (text := p.read_text(encoding="utf-8")) or HANDLER.search(text))


# Every change our copies make to deform's templates besides the nonce: (deform's text, ours), each
# found exactly once. Anything else that differs from the installed deform fails the test below.
ALLOWED_CHANGES: dict[str, list[tuple[str, str]]] = {
    "form.pt": [  # the server's messages instead of the browser's, a summary linking to each field
        ('  enctype="multipart/form-data"\n', '  enctype="multipart/form-data"\n  novalidate="novalidate"\n'),
        ("""    <div class="alert alert-danger" tal:condition="field.error">
      <div class="error-msg-lbl" i18n:translate=""
        >There was a problem with your submission</div>
      <div class="error-msg-detail" i18n:translate=""
        >Errors have been highlighted below</div>
      <p class="error-msg">${field.errormsg}</p>
    </div>
""", """    <div class="alert alert-danger error-summary" tal:condition="field.error" role="alert" tabindex="-1"
         id="${formid}-errors" aria-labelledby="${formid}-errors-title"
         tal:define="error_summary import: portal.forms.error_summary">
      <h2 class="error-msg-lbl" id="${formid}-errors-title" i18n:translate=""
        >There was a problem with your submission</h2>
      <p class="error-msg" tal:condition="field.errormsg">${field.errormsg}</p>
      <ul>
        <li tal:repeat="item error_summary(field)"><a href="#${item.target}">${item.text}</a></li>
      </ul>
    </div>

    <p class="required-note" i18n:domain="portal" i18n:translate=""
       >Fields marked <span class="req" i18n:name="mark">*</span> are required.</p>
"""),
    ],
    "mapping_item.pt": [  # the required mark, a class on an item with an error, no tooltip
        ("""     class="mb-3 ${field.widget.item_css_class or ''} ${field.default_item_css_class()}"
     title="${description}"
""", """     class="mb-3 ${field.widget.item_css_class or ''} ${field.default_item_css_class()} ${field.error and 'has-error' or ''}"
"""),
        ('         >${title}</label>',
         '         >${title}<span class="req" tal:condition="field.required" aria-hidden="true">*</span></label>'),
    ],
    "datetimeinput.pt": [  # both inputs labelled (axe's `label` rule): "生效时间 日期", "生效时间 时间"
        ('    <span class="input-group-text" i18n:translate="">Date</span>\n'
         '    <input type="date" name="date" value="${date}"',
         '    <label class="input-group-text" for="${oid}-date" id="${oid}-date-label" i18n:translate="">Date</label>\n'
         '    <input type="date" name="date" value="${date}" aria-labelledby="req-${oid} ${oid}-date-label"'),
        ('    <span class="input-group-text" i18n:translate="">Time</span>\n'
         '    <input type="time" name="time" value="${time}"',
         '    <label class="input-group-text" for="${oid}-time" id="${oid}-time-label" i18n:translate="">Time</label>\n'
         '    <input type="time" name="time" value="${time}" aria-labelledby="req-${oid} ${oid}-time-label"'),
    ],
}
# Templates of our own widgets, with no deform original (portal.uploads: the file list; a file field
# that says which file a refused submission kept).
OWN_TEMPLATES = ("file_list.pt", "file_upload_kept.pt")


def test_every_deform_template_with_a_script_is_overridden_with_the_nonce() -> None:
    """The copies in themes/deform differ from the installed deform's only by the nonce, the event
    handlers bound in script and the ALLOWED_CHANGES: after a deform upgrade this fails until they
    are copied again."""
    names = scripted_templates()
    assert names
    assert sorted(p.name for p in (THEMES / "deform").glob("*.pt")) == sorted(
        {*names, *ALLOWED_CHANGES, *OWN_TEMPLATES})
    for name in sorted({*names, *ALLOWED_CHANGES}):
        copy = (THEMES / "deform" / name).read_text(encoding="utf-8")
        assert copy.count('nonce="${csp_nonce()}"') == copy.count("<script"), name
        assert not HANDLER.search(copy), name
        plain = re.sub(r"\A<!--!.*?-->\n", "", copy, flags=re.S)
        plain = plain.replace(' tal:define="csp_nonce import: portal.headers.current_nonce" nonce="${csp_nonce()}"', "")
        for original, ours in ALLOWED_CHANGES.get(name, []):
            assert plain.count(ours) == 1, (name, ours)
            plain = plain.replace(ours, original)
        original = HANDLER.sub("", (DEFORM_TEMPLATES / name).read_text(encoding="utf-8"))
        assert OUR_BLOCK.sub("", plain) == original, name


def test_our_own_widget_templates_have_no_script_or_handler() -> None:
    for name in OWN_TEMPLATES:
        text = (THEMES / "deform" / name).read_text(encoding="utf-8")
        assert not (DEFORM_TEMPLATES / name).exists(), f"{name} now shadows a deform template"
        assert "<script" not in text and not HANDLER.search(text) and "javascript:" not in text, name


def test_every_deform_widget_script_renders_with_the_request_nonce(app: Any) -> None:
    request = Request.blank("/", base_url="http://example.com")
    request.registry = app.registry
    apply_request_extensions(request)
    schema = colander.SchemaNode(colander.Mapping())
    widgets = [
        (colander.Date(), deform.widget.DateInputWidget()),
        (colander.DateTime(), deform.widget.DateTimeInputWidget()),
        (colander.Time(), deform.widget.TimeInputWidget()),
        (colander.String(), deform.widget.RichTextWidget()),
        (colander.String(), deform.widget.AutocompleteInputWidget(values=["黄梅镇"])),
        (colander.String(), deform.widget.CheckedInputWidget(mask="999")),
        (colander.String(), deform.widget.TextInputWidget(mask="999")),
        (colander.Decimal(), deform.widget.MoneyInputWidget()),
        (colander.String(), deform.widget.Select2Widget(values=[("a", "a")])),
        (colander.String(), deform.widget.SelectizeWidget(values=[("a", "a")])),
    ]
    for i, (typ, widget) in enumerate(widgets):
        schema.add(colander.SchemaNode(typ, name=f"f{i}", widget=widget))
    schema.add(colander.SchemaNode(colander.Sequence(), colander.SchemaNode(colander.String(), name="x"),
                                   name="seq"))
    manager.push({"registry": app.registry, "request": request})
    try:
        html = deform.Form(schema, use_ajax=True).render()
    finally:
        manager.pop()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) >= len([n for n in scripted_templates() if "<script" in (DEFORM_TEMPLATES / n).read_text()])
    assert all(f'nonce="{request.csp_nonce}"' in s for s in scripts), scripts
    assert not HANDLER.search(html.replace(" prototype=", " data-p=")) and "javascript:" not in html


def test_the_themes_own_templates_have_no_inline_script_without_a_nonce() -> None:
    for template in (THEMES / "default" / "templates").glob("*.pt"):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'nonce="${request.csp_nonce}"' in tag, (template.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert "javascript:" not in text.lower(), template.name
