"""Specification of the rich-text sanitizer (portal.sanitize).

Article HTML is cleaned once, when it is saved, against an allowlist; what is
stored must be safe to render unescaped.  These tests state what "safe" means
(no script-capable element, no event handler, no ``style``, no dangerous URL
scheme) and check it against the classic filter-evasion vectors, and state what
must *survive*: ordinary Chinese government-article markup.
"""
from __future__ import annotations

import re

import lxml.etree
import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.sanitize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    html_to_text,
    sanitize_html,
)

# --------------------------------------------------------------------------
# What "safe" means
# --------------------------------------------------------------------------

FORBIDDEN_ELEMENTS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "style",
    "svg", "math", "form", "input", "button", "textarea", "select", "isindex",
    "meta", "base", "link", "body", "html", "head", "template", "noscript", "use",
    "details", "marquee", "video", "audio", "source",
}
# Attributes whose value a browser may treat as a URL to fetch or navigate to.
URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "xlink:href", "data", "background",
    "poster", "lowsrc", "dynsrc", "codebase", "cite", "longdesc", "usemap",
    "srcset", "ping", "manifest", "content",
}
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")
# Browsers ignore ASCII whitespace and control characters in a scheme.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")
_RAW_FORBIDDEN_TAG = re.compile(
    r"<\s*/?\s*(" + "|".join(sorted(FORBIDDEN_ELEMENTS)) + r")\b", re.IGNORECASE
)


def normalised_scheme_prefix(url: str) -> str:
    return _IGNORED_IN_SCHEME.sub("", url).lower()


def parse(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html, create_parent="div")


def assert_safe(html: str) -> None:
    """The safety contract every sanitized string must meet."""
    # Raw text: a real tag can only appear unescaped; text "<" is always "&lt;".
    match = _RAW_FORBIDDEN_TAG.search(html)
    assert match is None, f"forbidden tag {match.group(0)!r} in {html!r}"

    root = parse(html)
    for element in root.iter():
        if not isinstance(element.tag, str):
            raise AssertionError(f"comment or processing instruction survived: {html!r}")
        tag = lxml.etree.QName(element).localname.lower()
        assert tag not in FORBIDDEN_ELEMENTS, f"<{tag}> in {html!r}"
        for name, value in element.attrib.items():
            name = name.lower()
            assert not name.startswith("on"), f"event handler {name} in {html!r}"
            assert name != "style", f"style attribute in {html!r}"
            if name in URL_ATTRIBUTES or name.endswith("href"):
                scheme = normalised_scheme_prefix(value)
                assert not scheme.startswith(DANGEROUS_SCHEMES), f"{name}={value!r} in {html!r}"


def assert_allowlisted(html: str) -> None:
    """Only allowlisted tags and attributes (plus the added rel on links)."""
    for element in parse(html).iterdescendants():
        assert element.tag in ALLOWED_TAGS, f"<{element.tag}> in {html!r}"
        allowed = ALLOWED_ATTRIBUTES.get(element.tag, frozenset())
        if element.tag == "a":
            allowed = allowed | {"rel"}
        assert set(element.attrib) <= allowed, f"<{element.tag} {dict(element.attrib)}> in {html!r}"


# --------------------------------------------------------------------------
# Attack vectors (OWASP XSS filter evasion cheat sheet and friends)
# --------------------------------------------------------------------------

XSS_VECTORS: list[str] = [
    # script elements
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://xss.rocks/xss.js></SCRIPT>",
    '<SCRIPT/XSS SRC="https://xss.rocks/xss.js"></SCRIPT>',
    "<<SCRIPT>alert(1);//<</SCRIPT>",
    "<SCRIPT SRC=//xss.rocks/.j>",
    "<script>alert(1)",  # unclosed
    "<scr<script>ipt>alert(1)</scr</script>ipt>",  # nested to survive naive stripping
    '<img """><script>alert(1)</script>">',
    "<!--<script>-->alert(1)<!--</script>-->",
    "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    # event handlers
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<img/src='x'/onerror=alert(1)>",
    "<img src=x onerror\x0b=alert(1)>",
    "<body onload=alert(1)>",
    "<BODY ONLOAD=alert('XSS')>",
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)//",
    "<details open ontoggle=alert(1)>",
    "<p onclick=alert(1)>click</p>",
    "<div onmouseover=\"alert(1)\" style=\"position:fixed;width:100%;height:100%\">x</div>",
    "<a href=\"https://www.hg.gov.cn\" onfocus=alert(1) autofocus>x</a>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<video><source onerror=\"alert(1)\"></video>",
    "<input autofocus onfocus=alert(1)>",
    "<isindex type=image src=1 onerror=alert(1)>",
    "<isindex action=javascript:alert(1) type=submit value=click>",
    # javascript: URLs and their disguises
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="\tjavascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="jav\nascript:alert(1)">x</a>',
    '<a href="java\x00script:alert(1)">x</a>',
    '<a href="&#14;  javascript:alert(1)">x</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">x</a>',
    '<a href="&#106&#97&#118&#97&#115&#99&#114&#105&#112&#116&#58alert(1)">x</a>',
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    "<a href=javascript:alert(1)>x</a>",
    "<a href=`javascript:alert(1)`>x</a>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    '<IMG SRC="jav\tascript:alert(\'XSS\');">',
    "<img src=\"vbscript:msgbox('XSS')\">",
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="VBScript:msgbox(1)">x</a>',
    # data: URLs
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href=" DATA:text/html,<script>alert(1)</script>">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    # embedded documents and plugins
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<IFRAME SRC=# onmouseover=\"alert(document.cookie)\"></IFRAME>",
    "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    '<OBJECT TYPE="text/x-scriptlet" DATA="https://xss.rocks/scriptlet.html"></OBJECT>',
    '<embed src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<EMBED SRC="https://xss.rocks/xss.swf" AllowScriptAccess="always"></EMBED>',
    '<applet code="x.class"></applet>',
    # style sheets and style attributes
    "<style>@import 'https://xss.rocks/xss.css';</style>",
    "<STYLE>BODY{-moz-binding:url(\"https://xss.rocks/xssmoz.xml#xss\")}</STYLE>",
    '<LINK REL="stylesheet" HREF="javascript:alert(1);">',
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<div style=\"width: expression(alert(1));\">x</div>",
    "<p STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">x</p>",
    "<span style=\"behavior: url(xss.htc);\">x</span>",
    "<IMG STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">",
    # document-level tricks
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(1);">',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<BASE HREF="javascript:alert(1);//">',
    '<base href="https://evil.example/">',
    '<form action="javascript:alert(1)"><input type=submit></form>',
    '<form><button formaction="javascript:alert(1)">x</button></form>',
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\"><tr><td>x</td></tr></TABLE>",
    "<TD BACKGROUND=\"javascript:alert('XSS')\">",
    # SVG and MathML (foreign content, mutation XSS)
    '<svg><use href="data:image/svg+xml;base64,PHN2ZyBpZD0neCcgeG1sbnM9J2h0dHA6Ly93d3cudzMub3JnLzIwMDAvc3ZnJz48aW1hZ2UgaHJlZj0nMScgb25lcnJvcj0nYWxlcnQoMSknLz48L3N2Zz4=#x"></use></svg>',
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    "<svg><script>alert(1)</script></svg>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style><a title=\"</style><img src onerror=alert(1)>\"></style></h1>",
    '<math href="javascript:alert(1)">CLICKME</math>',
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    # miscellaneous
    "<xmp><p title=\"</xmp><img src=x onerror=alert(1)>\">",
    "<template><img src=x onerror=alert(1)></template>",
    "<a href=\"https://www.hg.gov.cn\" id=\"location\" class=\"evil\" style=\"color:red\">x</a>",
    "<img src=x onerror=alert(1)//",
    "<div><p><img src=x onerror=alert(1)",
]


def _vector_id(vector: str) -> str:
    return vector[:60].encode("unicode_escape").decode("ascii")


@pytest.mark.parametrize("vector", XSS_VECTORS, ids=[_vector_id(v) for v in XSS_VECTORS])
class TestXssVectors:
    def test_output_is_safe(self, vector: str) -> None:
        assert_safe(sanitize_html(vector))

    def test_output_contains_only_allowlisted_markup(self, vector: str) -> None:
        assert_allowlisted(sanitize_html(vector))

    def test_sanitizing_again_changes_nothing(self, vector: str) -> None:
        # stored HTML is re-saved by editors; a second pass must be a no-op
        once = sanitize_html(vector)
        assert sanitize_html(once) == once


def test_there_are_plenty_of_vectors() -> None:
    assert len(XSS_VECTORS) >= 40
    assert len(set(XSS_VECTORS)) == len(XSS_VECTORS)


# --------------------------------------------------------------------------
# Specific behaviour
# --------------------------------------------------------------------------


class TestRemovedContent:
    def test_script_is_removed_with_its_content(self) -> None:
        assert sanitize_html("<p>前</p><script>alert(1)</script><p>后</p>") == "<p>前</p><p>后</p>"

    def test_style_element_is_removed_with_its_content(self) -> None:
        assert sanitize_html("<style>p{color:red}</style><p>正文</p>") == "<p>正文</p>"

    def test_iframe_svg_math_are_removed_with_their_content(self) -> None:
        html = "<iframe>框</iframe><svg><text>图</text></svg><math><mi>x</mi></math><p>留</p>"
        assert sanitize_html(html) == "<p>留</p>"

    def test_unknown_tags_are_unwrapped_keeping_their_text(self) -> None:
        # pasted from Word/WPS: <font>, <o:p>, <section> go, the words stay
        html = '<section><font face="宋体">县政府</font><o:p>通知</o:p></section>'
        assert sanitize_html(html) == "县政府通知"

    def test_comments_are_removed(self) -> None:
        assert sanitize_html("<p>甲<!-- 备注 -->乙</p>") == "<p>甲乙</p>"

    def test_conditional_comments_are_removed(self) -> None:
        assert sanitize_html("<!--[if gte mso 9]><xml><w:WordDocument/></xml><![endif]--><p>x</p>") == "<p>x</p>"

    def test_h1_is_not_allowed_because_the_page_title_is_the_h1(self) -> None:
        assert sanitize_html("<h1>标题</h1>") == "标题"


class TestAttributes:
    def test_style_attribute_is_always_removed(self) -> None:
        assert sanitize_html('<p style="color:red;text-align:center">居中</p>') == "<p>居中</p>"

    def test_class_and_id_are_removed(self) -> None:
        assert sanitize_html('<p class="MsoNormal" id="x1">段落</p>') == "<p>段落</p>"

    def test_event_handlers_are_removed(self) -> None:
        assert sanitize_html('<p onclick="alert(1)" onmouseover="x()">文字</p>') == "<p>文字</p>"

    def test_table_cells_keep_colspan_and_rowspan(self) -> None:
        out = sanitize_html('<table><tr><td colspan="2" rowspan="3" width="50">单元格</td></tr></table>')
        cell = parse(out).find(".//td")
        assert cell is not None
        assert dict(cell.attrib) == {"colspan": "2", "rowspan": "3"}

    def test_image_keeps_its_allowed_attributes(self) -> None:
        html = '<img src="/uploads/2024/photo.jpg" alt="县城全景" title="全景" width="640" height="480" class="x">'
        img = parse(sanitize_html(html)).find(".//img")
        assert img is not None
        assert dict(img.attrib) == {
            "src": "/uploads/2024/photo.jpg",
            "alt": "县城全景",
            "title": "全景",
            "width": "640",
            "height": "480",
        }


class TestLinks:
    def test_links_get_rel_noopener_noreferrer(self) -> None:
        a = parse(sanitize_html('<a href="https://www.hg.gov.cn/" target="_blank">县政府</a>')).find(".//a")
        assert a is not None
        assert a.get("rel") == "noopener noreferrer"
        assert a.get("target") is None

    def test_author_supplied_rel_is_replaced(self) -> None:
        a = parse(sanitize_html('<a href="/x" rel="opener">x</a>')).find(".//a")
        assert a is not None
        assert a.get("rel") == "noopener noreferrer"

    @pytest.mark.parametrize(
        "href",
        [
            "https://www.hg.gov.cn/col/col1/index.html",
            "http://www.hg.gov.cn/",
            "mailto:hgxzf@hg.gov.cn",
            "/zwgk/tzgg/2024/",
            "../index.html",
            "2024-notice.html",
            "#section-2",
            "?page=2",
            "//www.hg.gov.cn/",
            "/files/县政府工作报告.pdf",
        ],
    )
    def test_safe_and_relative_urls_are_kept(self, href: str) -> None:
        a = parse(sanitize_html(f'<a href="{href}">链接</a>')).find(".//a")
        assert a is not None
        assert a.get("href") == href

    @pytest.mark.parametrize(
        "href",
        ["javascript:alert(1)", "vbscript:x", "data:text/html,x", "ftp://example.com/", "file:///etc/passwd", "tel:110"],
    )
    def test_other_schemes_are_removed_but_the_link_text_stays(self, href: str) -> None:
        out = sanitize_html(f'<a href="{href}">链接</a>')
        a = parse(out).find(".//a")
        assert a is not None
        assert a.get("href") is None
        assert a.text == "链接"

    def test_query_string_ampersands_are_escaped_but_preserved(self) -> None:
        out = sanitize_html('<a href="https://www.hg.gov.cn/s?q=1&p=2">x</a>')
        assert 'href="https://www.hg.gov.cn/s?q=1&amp;p=2"' in out
        a = parse(out).find(".//a")
        assert a is not None and a.get("href") == "https://www.hg.gov.cn/s?q=1&p=2"


class TestEmptyAndOddInput:
    @pytest.mark.parametrize("value", [None, "", "   ", "\n\t"])
    def test_nothing_gives_empty_string(self, value: str | None) -> None:
        assert sanitize_html(value) == ""

    def test_control_characters_are_dropped(self) -> None:
        assert sanitize_html("<p>黄\x00梅\x1b县\x7f</p>") == "<p>黄梅县</p>"

    def test_lone_surrogates_do_not_crash(self) -> None:
        assert sanitize_html("<p>黄\ud800梅</p>") == "<p>黄梅</p>"

    def test_text_special_characters_are_escaped(self) -> None:
        assert sanitize_html("a < b & c > d") == "a &lt; b &amp; c &gt; d"


# --------------------------------------------------------------------------
# What must survive: ordinary Chinese government articles
# --------------------------------------------------------------------------

ARTICLE = """
<h2>黄梅县人民政府关于2024年春季农业生产工作的通知</h2>
<p>各乡镇人民政府，县政府各部门：</p>
<p>为切实做好今年春季农业生产工作，确保粮食稳产增收，现将有关事项通知如下。</p>
<h3>一、主要任务</h3>
<ol>
  <li>稳定粮食播种面积，确保<strong>早稻面积</strong>不减少；</li>
  <li>加强<em>病虫害</em>统防统治。</li>
</ol>
<table>
  <caption>2024年春播计划（单位：万亩）</caption>
  <thead><tr><th>乡镇</th><th>早稻</th><th>油菜</th></tr></thead>
  <tbody>
    <tr><td>黄梅镇</td><td>3.2</td><td>1.5</td></tr>
    <tr><td>小池镇</td><td colspan="2">另行通知</td></tr>
  </tbody>
</table>
<figure><img src="uploads/2024/spring.jpg" alt="春耕现场"><figcaption>春耕现场</figcaption></figure>
<p>详情请登录<a href="https://www.hg.gov.cn">黄梅县人民政府网</a>查询。</p>
<blockquote>联系电话：0713-4331234</blockquote>
<p>黄梅县人民政府<br>2024年3月1日</p>
"""


class TestOrdinaryArticles:
    def test_article_markup_is_unchanged_apart_from_link_rel(self) -> None:
        out = sanitize_html(ARTICLE)
        expected = ARTICLE.strip().replace(
            '<a href="https://www.hg.gov.cn">', '<a href="https://www.hg.gov.cn" rel="noopener noreferrer">'
        )
        assert out == expected

    def test_article_structure_survives(self) -> None:
        root = parse(sanitize_html(ARTICLE))
        assert [h.text for h in root.findall("h2") + root.findall("h3")] == [
            "黄梅县人民政府关于2024年春季农业生产工作的通知",
            "一、主要任务",
        ]
        assert len(root.findall("p")) == 4
        assert len(root.findall("ol/li")) == 2
        table = root.find("table")
        assert table is not None
        assert table.findtext("caption") == "2024年春播计划（单位：万亩）"
        assert [th.text for th in table.findall("thead/tr/th")] == ["乡镇", "早稻", "油菜"]
        assert [[td.text for td in tr] for tr in table.findall("tbody/tr")] == [
            ["黄梅镇", "3.2", "1.5"],
            ["小池镇", "另行通知"],
        ]
        assert table.find("tbody/tr/td[@colspan='2']") is not None

    def test_link_to_the_government_site_survives(self) -> None:
        a = parse(sanitize_html(ARTICLE)).find(".//a")
        assert a is not None
        assert a.get("href") == "https://www.hg.gov.cn"
        assert a.text == "黄梅县人民政府网"

    def test_image_with_relative_src_survives(self) -> None:
        img = parse(sanitize_html(ARTICLE)).find(".//figure/img")
        assert img is not None
        assert img.get("src") == "uploads/2024/spring.jpg"
        assert img.get("alt") == "春耕现场"

    def test_all_text_survives(self) -> None:
        assert html_to_text(sanitize_html(ARTICLE)) == html_to_text(ARTICLE)

    @pytest.mark.parametrize(
        "text",
        [
            "黄梅县人民政府",
            "《黄梅县国民经济和社会发展统计公报》",
            "“双减”政策——落实情况（2024）",
            "全角空格\u3000\u3000缩进；标点：，。！？、",
            "繁體字：縣政府",
            "生僻字：𠀀𪚥",  # outside the BMP
            "数字１２３与ＡＢＣ",
        ],
    )
    def test_chinese_text_is_preserved_exactly(self, text: str) -> None:
        assert sanitize_html(f"<p>{text}</p>") == f"<p>{text}</p>"
        assert sanitize_html(text) == text

    @pytest.mark.parametrize(
        "html",
        [
            *(f"<{tag}>字</{tag}>" for tag in (
                "p", "div", "span", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s",
                "sub", "sup", "blockquote", "pre", "code", "figure", "figcaption",
            )),
            "<ul><li>项</li></ul>",
            "<ol><li>项</li></ol>",
            "甲<br>乙<hr>",
            '<a href="/" rel="noopener noreferrer">首页</a>',
            '<img src="/a.png" alt="图">',
            "<table><caption>表</caption><thead><tr><th>头</th></tr></thead>"
            "<tbody><tr><td>体</td></tr></tbody><tfoot><tr><td>脚</td></tr></tfoot></table>",
        ],
    )
    def test_every_allowed_element_is_kept(self, html: str) -> None:
        assert sanitize_html(html) == html

    def test_the_allowed_elements_are_exactly_those_listed(self) -> None:
        assert ALLOWED_TAGS == {
            "p", "br", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s", "sub", "sup",
            "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tfoot", "tr", "th",
            "td", "caption", "hr", "pre", "code", "span", "div", "figure", "figcaption",
        }


# --------------------------------------------------------------------------
# html_to_text
# --------------------------------------------------------------------------


class TestHtmlToText:
    @pytest.mark.parametrize("value", [None, "", "   ", "<p></p>", "<!-- 注释 -->", "<br><br>", "<html>"])
    def test_empty_input_gives_empty_string(self, value: str | None) -> None:
        assert html_to_text(value) == ""

    @pytest.mark.parametrize(
        "garbage",
        ["<<<>>>", "</p></div>", "<p<p<p", "<![CDATA[x", "<?xml version='1.0'?>", "\x00\x01\x02",
         "<html><html><body><body>", "&#xD800;&#0;", "黄\ud800梅", "<" * 1000, "<div>" * 5000],
    )
    def test_garbage_does_not_raise(self, garbage: str) -> None:
        assert isinstance(html_to_text(garbage), str)

    def test_plain_text_passes_through(self) -> None:
        assert html_to_text("黄梅县人民政府") == "黄梅县人民政府"

    def test_tags_are_removed_and_inline_elements_do_not_split_words(self) -> None:
        assert html_to_text("<p>黄梅<strong>县</strong><a href='/'>人民政府</a></p>") == "黄梅县人民政府"

    def test_paragraphs_headings_and_breaks_become_single_line_breaks(self) -> None:
        html = "<h2>标题</h2>\n\n<p>第一段</p><p></p><p>第二段<br>第二行</p>"
        assert html_to_text(html) == "标题\n第一段\n第二段\n第二行"

    def test_whitespace_is_collapsed(self) -> None:
        assert html_to_text("<p>  黄梅\n\t  县 \u3000 政府  </p>") == "黄梅 县 政府"

    def test_list_items_and_table_rows_are_lines_cells_are_spaced(self) -> None:
        html = "<ul><li>一</li><li>二</li></ul><table><tr><th>乡镇</th><th>面积</th></tr><tr><td>小池镇</td><td>3.2</td></tr></table>"
        assert html_to_text(html) == "一\n二\n乡镇 面积\n小池镇 3.2"

    def test_entities_are_decoded(self) -> None:
        assert html_to_text("<p>A&amp;B &lt;县&gt; &#x9EC4;&#26757;&nbsp;县</p>") == "A&B <县> 黄梅 县"

    def test_script_style_and_comments_are_not_text(self) -> None:
        html = "<style>p{}</style><p>正文<!-- 注释 --></p><script>var x = 1;</script>"
        assert html_to_text(html) == "正文"

    def test_whole_documents_give_body_text_only(self) -> None:
        html = "<!DOCTYPE html><html><head><title>标题</title></head><body><p>正文</p></body></html>"
        assert html_to_text(html) == "正文"

    def test_article_text(self) -> None:
        text = html_to_text(ARTICLE)
        assert text.splitlines()[:3] == [
            "黄梅县人民政府关于2024年春季农业生产工作的通知",
            "各乡镇人民政府，县政府各部门：",
            "为切实做好今年春季农业生产工作，确保粮食稳产增收，现将有关事项通知如下。",
        ]
        assert "黄梅镇 3.2 1.5" in text.splitlines()
        assert text.endswith("黄梅县人民政府\n2024年3月1日")


# --------------------------------------------------------------------------
# Properties over arbitrary input
# --------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    ["<", ">", "/", "=", '"', "'", " ", "&", "#", ";", "!", "-", "\n", "\x00", "\ud800",
     "<p>", "</p>", "<a href=", "javascript:", "jav&#x09;ascript:", "data:", "<img src=x ", "onerror=",
     "style=", "<script>", "</script>", "<svg>", "<math>", "<style>", "<!--", "-->", "<![CDATA[",
     "<table>", "<td>", "<html>", "<noscript>", "<xmp>", "<iframe>", "黄梅", "县"]
)
_SOUP = st.lists(_FRAGMENTS, max_size=40).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_SOUP)
def test_any_tag_soup_sanitizes_to_safe_allowlisted_html(html: str) -> None:
    out = sanitize_html(html)
    assert_safe(out)
    assert_allowlisted(out)
    assert isinstance(html_to_text(out), str)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_SOUP, st.text(max_size=200)))
def test_html_to_text_never_raises(html: str) -> None:
    assert isinstance(html_to_text(html), str)
