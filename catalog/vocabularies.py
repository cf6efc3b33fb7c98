"""Every fixed list of the catalogue, in one place: themes (数据领域), licences, open classes and
update frequencies. Forms, pages, the listing's facets and (later) the CKAN and DCAT mappings read
them from here, so a list is never spelled twice.

Licence ids are CKAN's own where CKAN has the licence (CKAN 2.12's default list: `cc-by`,
`cc-by-sa`, `cc-zero`, `odc-odbl`, ...). CKAN accepts any `license_id` without checking it, but an
id it does not know (`cc-by-4.0`, which the issue gave as an example) comes back with the id as its
title and `isopen` false, so data users could not filter on it: CC BY 4.0 is CKAN's `cc-by`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

THEMES: tuple[str, ...] = ("人口", "法人", "宏观经济", "财政", "教育", "卫生", "农业农村", "交通", "城乡建设",
                           "生态环境", "社会保障", "政府规范性文件", "其他")


@dataclass(frozen=True)
class Licence:
    id: str  # CKAN's license_id
    title: str
    url: str
    open: bool  # Open Definition conformant (CKAN's `isopen`)


LICENCES: tuple[Licence, ...] = (
    Licence("cc-by", "知识共享署名 4.0（CC BY 4.0）", "https://creativecommons.org/licenses/by/4.0/", True),
    Licence("cc-by-sa", "知识共享署名-相同方式共享 4.0（CC BY-SA 4.0）",
            "https://creativecommons.org/licenses/by-sa/4.0/", True),
    Licence("cc-zero", "知识共享零许可（CC0 1.0）", "https://creativecommons.org/publicdomain/zero/1.0/", True),
    Licence("odc-by", "开放数据共享署名许可（ODC-By）", "https://opendatacommons.org/licenses/by/", True),
    Licence("odc-odbl", "开放数据库许可（ODbL）", "https://opendatacommons.org/licenses/odbl/", True),
    Licence("odc-pddl", "开放数据共享公共领域许可（PDDL）", "https://opendatacommons.org/licenses/pddl/", True),
    Licence("other-open", "其他开放许可", "", True),
    Licence("other-at", "其他许可（需署名）", "", True),
    Licence("other-nc", "其他许可（非商业使用）", "", False),
    Licence("other-closed", "其他许可（非开放）", "", False),
    Licence("notspecified", "未指定许可", "", False),
)
LICENCE_BY_ID: dict[str, Licence] = {licence.id: licence for licence in LICENCES}
DEFAULT_LICENCE = "cc-by"

OPEN = "无条件开放"
CONDITIONAL = "有条件开放"
OPEN_CLASSES: tuple[str, ...] = (OPEN, CONDITIONAL)

# 更新频率 with the EU frequency vocabulary's code (for DCAT's dct:accrualPeriodicity).
FREQUENCIES: dict[str, str] = {
    "实时": "CONT", "每日": "DAILY", "每周": "WEEKLY", "每月": "MONTHLY", "每季度": "QUARTERLY",
    "每年": "ANNUAL", "不定期": "IRREG",
}
FREQUENCY_URI = "http://publications.europa.eu/resource/authority/frequency/"

# 数据领域 with the EU data-theme vocabulary's code where one fits (DCAT-AP's dcat:theme; the DCAT
# output adds the portal's own theme too, which keeps 宏观经济 and 财政 apart). 其他 has none.
THEME_EU: dict[str, str] = {
    "人口": "SOCI", "法人": "ECON", "宏观经济": "ECON", "财政": "GOVE", "教育": "EDUC", "卫生": "HEAL",
    "农业农村": "AGRI", "交通": "TRAN", "城乡建设": "REGI", "生态环境": "ENVI", "社会保障": "SOCI",
    "政府规范性文件": "GOVE",
}
THEME_EU_URI = "http://publications.europa.eu/resource/authority/data-theme/"

# 开放类型 with the EU access-right vocabulary's code (DCAT's dct:accessRights).
ACCESS_RIGHTS: dict[str, str] = {OPEN: "PUBLIC", CONDITIONAL: "RESTRICTED"}
ACCESS_RIGHTS_URI = "http://publications.europa.eu/resource/authority/access-right/"

DEFAULT_SPATIAL = "黄梅县"

# Keywords become CKAN tags, which must be 2-100 characters of letters (any script), digits,
# spaces, "-", "_" and "."; a keyword CKAN would refuse is refused on the portal already.
KEYWORD = re.compile(r"[\w .-]{2,100}")
MAX_KEYWORDS = 20

# Tabular formats the dataset page previews.
TABULAR_FORMATS: tuple[str, ...] = ("CSV", "XLSX")
