"""URL names: pinyin of titles, valid names, unique among siblings."""
from __future__ import annotations

import pytest
from sqlalchemy import insert

from portal.models import Node
from portal.slugs import MAX_LENGTH, free_name, slugify, unique_name, valid_name


@pytest.mark.parametrize("title, name", [
    ("工作动态", "gongzuodongtai"),
    ("黄梅镇", "huangmeizhen"),
    ("信息公开指南", "xinxigongkaizhinan"),
    ("2024年工作要点", "2024niangongzuoyaodian"),
    ("关于印发《方案》的通知", "guanyuyinfa-fangan-detongzhi"),
    ("Hello World", "hello-world"),
    ("  Leading and trailing  ", "leading-and-trailing"),
    ("通知.pdf", "tongzhi-pdf"),
    ("a -- b", "a-b"),
])
def test_slugify(title, name):
    assert slugify(title) == name


@pytest.mark.parametrize("title", ["", "   ", "！？。", "---", "《》"])
def test_slugify_without_letters_gives_item(title):
    assert slugify(title) == "item"


def test_slugify_is_lower_case_ascii_and_valid():
    for title in ("县人民政府办公室关于2024年度政府信息公开工作的报告", "ABC定义", "Ünïcode 名称", "a_b/c\\d"):
        name = slugify(title)
        assert name == name.lower()
        assert name.isascii()
        assert valid_name(name), name


def test_slugify_cuts_long_titles_without_a_trailing_dash():
    name = slugify("关于" * 40)
    assert len(name) <= MAX_LENGTH
    assert valid_name(name)
    name = slugify("a" * 59 + " b" * 10)
    assert len(name) <= MAX_LENGTH and not name.endswith("-")


def test_slugify_is_stable():
    assert slugify("工作动态") == slugify("工作动态")


@pytest.mark.parametrize("name", ["a", "abc", "a-b", "a1", "1abc", "2024-report", "a" * 80, "a--b"])
def test_valid_names(name):
    assert valid_name(name)


@pytest.mark.parametrize("name", ["", "-a", "A", "aBc", "a_b", "a b", "a.b", "a/b", "名字", "a" * 81, "@@edit",
                                  "..", "a\nb", "\na"])
def test_invalid_names(name):
    assert not valid_name(name)


def test_a_trailing_newline_is_not_a_valid_name():
    assert not valid_name("news\n")


def test_unique_name_with_a_taken_set():
    assert unique_name(Node(), "news", taken=set()) == "news"
    assert unique_name(Node(), "news", taken={"news"}) == "news-2"
    assert unique_name(Node(), "news", taken={"news", "news-2", "news-3"}) == "news-4"
    assert unique_name(Node(), "news", taken={"news-2"}) == "news"


def test_unique_name_looks_at_the_containers_children():
    container = Node(name="", path="/")
    for name in ("gongzuodongtai", "gongzuodongtai-2"):
        container.add(Node(), name)
    assert unique_name(container, "gongzuodongtai") == "gongzuodongtai-3"
    assert unique_name(container, "other") == "other"


def test_free_name_without_a_database_is_unique_name():
    container = Node(name="", path="/")
    container.add(Node(), "news")
    assert free_name(container, "news") == "news-2"


def test_free_name_sees_siblings_the_loaded_children_do_not(dbsession, town):
    """A sibling committed by a concurrent request is in the database, not in `town.children`."""
    town.keys()  # the children are loaded now
    dbsession.execute(insert(Node.__table__).values(type="Node", parent_id=town.id, name="tongzhi",
                                                    path=f"{town.path}tongzhi/"))
    assert unique_name(town, "tongzhi") == "tongzhi"  # what create used: the stale children
    assert free_name(town, "tongzhi") == "tongzhi-2"
    assert free_name(town, "other") == "other"
