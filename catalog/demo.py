"""Demo datasets for `portal demo`: what a data user of the county would look for first, made the
way a unit would make them. Idempotent (found by unit and title; a second run adds nothing).

Registered in the `portal.demo` entry point group, which content_types' demo runs after its own
part (whose accounts this one acts as): content_types does not know the catalogue.

Every dataset and resource goes through the API's validation (portal.api.fields.deserialize: the
same type checks, schema and upload checks as a JSON POST) and portal.content's actions: the
manager adds and submits in the county departments (as content_types' demo does in 县政府办), the
county reviewer publishes. The figures are made up but plausible and deterministic (the same
figures every run, no random state); each description says they are demo data.
"""
from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import zlib
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select

from portal import content
from portal.accounts import find_unit
from portal.api.fields import deserialize
from portal.models import Node, Unit, User
from portal.registry import type_info
from portal.security import act_as

from . import disclosure_export
from . import vocabularies as v

CREATOR, REVIEWER = "admin", "shenhe"  # content_types' demo accounts: the manager and the county reviewer
DEMO_NOTE = "（演示数据，数字为虚构，仅供体验门户功能。）"
YEARS = range(2019, 2026)


@dataclass(frozen=True)
class DemoResource:
    title: str
    description: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class DemoDataset:
    unit: str  # title in the unit list (portal/data/units.csv)
    fields: dict[str, Any]  # the dataset's JSON, as the API takes it
    resource: DemoResource


# -- the data -------------------------------------------------------------------------------------

def towns(dbsession: Any) -> list[str]:
    """The 16 towns and townships (kind 乡镇), in the unit list's order (its org codes)."""
    return list(dbsession.scalars(select(Unit.title).where(Unit.kind == "乡镇").order_by(Unit.org_code)))


def population_csv(names: list[str]) -> bytes:
    """户籍人口 by town, GBK as Chinese Excel writes it. Figures from a checksum of the name, so the
    same town gets the same figures on every run and every machine (no random state)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["乡镇", "户数", "户籍人口", "男", "女"])
    totals = [0, 0, 0, 0]
    for index, name in enumerate(names):
        seed = zlib.crc32(name.encode("utf-8"))
        people = 28_000 + seed % 72_000 + (90_000 if index == 0 else 0)  # the county seat (org code -001)
        households = people * 10 // (31 + seed % 5)  # 3.1 to 3.5 people a household
        men = people * (510 + seed % 15) // 1000
        row = [households, people, men, people - men]
        totals = [t + n for t, n in zip(totals, row)]
        writer.writerow([name, *row])
    writer.writerow(["合计", *totals])
    return out.getvalue().encode("gbk")


ECONOMY_HEADER = ("年份", "地区生产总值（亿元）", "一般公共预算收入（亿元）", "城镇居民人均可支配收入（元）",
                  "农村居民人均可支配收入（元）")
ECONOMY: dict[int, tuple[float, float, int, int]] = {
    2019: (236.8, 11.62, 31_284, 15_873), 2020: (221.5, 9.87, 31_602, 16_370),
    2021: (261.3, 11.05, 34_412, 18_104), 2022: (278.9, 11.48, 36_135, 19_386),
    2023: (296.4, 12.21, 38_206, 20_781), 2024: (314.7, 12.86, 40_183, 22_132),
    2025: (333.2, 13.40, 42_090, 23_451),
}


def economy_xlsx() -> bytes:
    """Yearly figures, one sheet (the first, which the preview shows)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "主要经济指标"
    sheet.append(ECONOMY_HEADER)
    for year in YEARS:
        sheet.append([year, *ECONOMY[year]])
    book.properties.creator = "黄梅县统计局（演示）"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# Kind and the first two characters of its 统一社会信用代码 (91 enterprise, 92 个体工商户, 93 合作社).
BUSINESS_KINDS = (("有限责任公司", "91"), ("个人独资企业", "91"), ("农民专业合作社", "93"), ("有限责任公司", "91"),
                  ("个体工商户", "92"))
BUSINESS_NAMES = ("黄梅县示例农业发展", "黄梅县示例建材", "黄梅县示例水产养殖", "黄梅县示例电子商务", "黄梅县示例餐饮",
                  "黄梅县示例物流", "黄梅县示例纺织", "黄梅县示例茶叶", "黄梅县示例旅游开发", "黄梅县示例医药连锁",
                  "黄梅县示例汽车维修", "黄梅县示例粮油")


def business_csv(names: list[str]) -> bytes:
    """市场主体 with obviously made-up codes (DEMO in the 统一社会信用代码), UTF-8 with a BOM (as
    Excel saves "CSV UTF-8"), so the demo shows the three encodings the preview detects apart."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["统一社会信用代码", "市场主体名称", "市场主体类型", "法定代表人", "注册资本（万元）", "成立日期",
                     "住所所在乡镇", "登记状态"])
    surnames = "张王李刘陈杨黄赵周吴徐孙"
    for n, base in enumerate(BUSINESS_NAMES):
        kind, code = BUSINESS_KINDS[n % len(BUSINESS_KINDS)]
        name = base + ("有限公司" if kind == "有限责任公司" else "专业合作社" if kind == "农民专业合作社"
                       else "店" if kind == "个体工商户" else "厂")
        founded = dt.date(2012 + n % 12, 1 + (n * 5) % 12, 1 + (n * 7) % 28)
        writer.writerow([f"{code}421127DEMO{n + 1:05d}X", name, kind, f"{surnames[n]}某", 50 * (1 + (n * 7) % 20),
                         founded.isoformat(), names[(n * 3) % len(names)] if names else "黄梅镇", "存续"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def datasets(dbsession: Any) -> list[DemoDataset]:
    names = towns(dbsession)
    return [
        DemoDataset("县统计局", {
            "title": "黄梅县各乡镇户籍人口（2025年）",
            "description": "2025年末全县16个乡镇户籍户数、户籍人口及分性别人口。" + DEMO_NOTE,
            "theme": "人口", "keywords": ["人口", "户籍", "乡镇"], "license": "cc-by", "open_class": v.OPEN,
            "update_frequency": "每年", "temporal_start": "2025-01-01", "temporal_end": "2025-12-31",
            "spatial": v.DEFAULT_SPATIAL, "contact_name": "县统计局综合股", "contact_phone": "0713-3321234",
            "contact_email": "tjj@huangmei.example"},
            DemoResource("各乡镇户籍人口（2025年）", "CSV，GBK 编码（Excel 可直接打开）", "黄梅县各乡镇户籍人口2025.csv",
                         population_csv(names))),
        DemoDataset("县统计局", {
            "title": "黄梅县主要经济指标（2019—2025年）",
            "description": "地区生产总值、一般公共预算收入、城镇和农村居民人均可支配收入的年度数据。" + DEMO_NOTE,
            "theme": "宏观经济", "keywords": ["地区生产总值", "财政收入", "居民收入"], "license": "cc-by",
            "open_class": v.OPEN, "update_frequency": "每年", "temporal_start": "2019-01-01",
            "temporal_end": "2025-12-31", "spatial": v.DEFAULT_SPATIAL, "contact_name": "县统计局综合股",
            "contact_phone": "0713-3321234", "contact_email": "tjj@huangmei.example"},
            DemoResource("主要经济指标（2019—2025年）", "Excel 工作簿，一个工作表", "黄梅县主要经济指标2019-2025.xlsx",
                         economy_xlsx())),
        DemoDataset("县工商局", {
            "title": "黄梅县市场主体登记信息",
            "description": "在县内登记的市场主体的名称、类型、法定代表人、注册资本和成立日期。含个人信息，"
                           "有条件开放：请向县工商局注册科申请使用。" + DEMO_NOTE,
            "theme": "法人", "keywords": ["市场主体", "企业登记", "法人"], "license": "other-closed",
            "open_class": v.CONDITIONAL, "update_frequency": "每月", "spatial": v.DEFAULT_SPATIAL,
            "contact_name": "县工商局注册科", "contact_phone": "0713-3325678",
            "contact_email": "gsj@huangmei.example"},
            DemoResource("市场主体登记信息", "CSV，UTF-8 编码", "黄梅县市场主体登记信息.csv", business_csv(names))),
    ]


# -- making them ----------------------------------------------------------------------------------

def found(request: Any, within: Node, type_name: str, title: str) -> Node | None:
    """The item of that type and title anywhere in `within` (an earlier run made it; an editor may
    have moved a dataset into a column since)."""
    return request.dbsession.scalar(select(Node).where(
        Node.path.like(f"{within.path}%"), Node.type == type_name, Node.title == title).limit(1))


def b64(resource: DemoResource) -> dict[str, str]:
    return {"data": base64.b64encode(resource.data).decode("ascii"), "encoding": "base64",
            "filename": resource.filename}


def add(request: Any, parent: Node, type_name: str, body: dict[str, Any]) -> Node:
    """Checked as an API POST would be, then created by the one write path, and submitted."""
    info = type_info(request.registry, type_name)
    node = content.create(request, parent, type_name, deserialize(request, info, body))
    content.transition(request, node, "submit")
    return node


def load_demo_datasets(request: Any) -> list[str]:
    """Entry point of `portal.demo`: make the demo datasets that are missing; one line to print."""
    if type_info(request.registry, "Dataset") is None:  # an app built without the catalogue
        return []
    dbsession = request.dbsession
    users = {u.login: u for u in dbsession.scalars(select(User).where(User.login.in_((CREATOR, REVIEWER))))}
    added = 0
    for demo in datasets(dbsession):
        unit = find_unit(dbsession, demo.unit)
        act_as(request, users[CREATOR])
        dataset = found(request, unit, "Dataset", demo.fields["title"])
        made = []
        if dataset is None:
            dataset = add(request, unit, "Dataset", demo.fields)
            made.append(dataset)
            added += 1
        if found(request, dataset, "Resource", demo.resource.title) is None:
            made.append(add(request, dataset, "Resource", {
                "title": demo.resource.title, "description": demo.resource.description,
                "file": b64(demo.resource)}))
        act_as(request, users[REVIEWER])
        for node in made:
            content.transition(request, node, "publish", "演示数据")
    act_as(request, None)
    disclosure_export.regenerate(request)  # the demo's disclosure documents into the 信息公开目录 dataset
    return [f"demo datasets: {added} added"]
