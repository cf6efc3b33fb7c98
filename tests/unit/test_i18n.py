"""The Chinese catalogs are complete and compiled: people never meet an English message id."""
import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "portal" / "locale" / "zh_CN" / "LC_MESSAGES"


def entries(po: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) of every entry, joined across continuation lines."""
    out = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        fuzzy = "#, fuzzy" in block or ", fuzzy" in block
        ids = re.findall(r'^msgid ((?:".*"\n?)+)', block + "\n", re.M)
        strs = re.findall(r'^msgstr ((?:".*"\n?)+)', block + "\n", re.M)
        if ids and strs:
            join = lambda s: "".join(re.findall(r'"(.*)"', s))  # noqa: E731
            out.append((join(ids[0]), join(strs[0]), fuzzy))
    return out


@pytest.mark.parametrize("domain", ["portal", "colander", "deform"])
def test_every_message_is_translated(domain):
    items = [e for e in entries(LOCALE / f"{domain}.po") if e[0]]  # the header has an empty msgid
    assert items
    assert [e[0] for e in items if not e[1] or e[2]] == []


@pytest.mark.parametrize("domain", ["portal", "colander", "deform"])
def test_compiled_catalog_matches_its_source(domain):
    """scripts/i18n.sh compiles the .mo; a .po edited without it would not reach people."""
    with open(LOCALE / f"{domain}.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    for msgid, msgstr, fuzzy in entries(LOCALE / f"{domain}.po"):
        if msgid and msgstr and not fuzzy and "\\" not in msgid:
            assert compiled.gettext(msgid.replace('\\"', '"').replace("\\n", "\n")) == \
                msgstr.replace('\\"', '"').replace("\\n", "\n"), msgid


def test_placeholders_survive_translation():
    for msgid, msgstr, _fuzzy in entries(LOCALE / "portal.po"):
        if msgid and msgstr:
            assert sorted(re.findall(r"\$\{\w+\}", msgid)) == sorted(re.findall(r"\$\{\w+\}", msgstr)), msgid
