"""Gateway names like operators type them: Chinese and Latin, with spaces, dots, dashes and underscores.

Every pattern embeds the running number, so names of one kind are unique by construction; mapping and
routing patterns use different words, so the two kinds only share the names chosen to be shared.
"""

from __future__ import annotations

import random
from collections.abc import Callable

_REGIONS = ("华东", "华南", "华北", "西南", "东北", "华中", "西北")
_CITIES_CN = ("上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "南京", "重庆", "西安")
_CITIES_LATIN = ("Shanghai", "Beijing", "Guangzhou", "Shenzhen", "Hangzhou", "Chengdu", "Wuhan", "HK")
_CARRIERS_CN = ("电信", "移动", "联通", "广电")
_CARRIERS_LATIN = ("CT", "CMCC", "CU", "PCCW", "HKT", "Telstra", "Singtel")
_COMPANIES_CN = ("鑫达通信", "华信科技", "迅捷网络", "远航呼叫", "金桥信息", "天翼合作", "博远外呼")
_COMPANIES_LATIN = ("Acme Voice", "BlueSky Telecom", "Nova Call", "Orient Link", "Pacific VoIP", "Zen Tel")

NamePattern = Callable[[random.Random, int], str]

MAPPING_PATTERNS: tuple[NamePattern, ...] = (
    lambda r, n: f"{r.choice(_REGIONS)}{r.choice(_CARRIERS_CN)}-{n:02d}",
    lambda r, n: f"客户{n:03d}",
    lambda r, n: f"{r.choice(_COMPANIES_LATIN)} {n}",
    lambda r, n: f"cust.{r.choice(_CITIES_LATIN).lower()}.{n:03d}",
    lambda r, n: f"{r.choice(_COMPANIES_CN)}_{n}",
    lambda r, n: f"VIP-{r.choice(_COMPANIES_LATIN).split()[0]}{n}",
    lambda r, n: f"{r.choice(_CITIES_CN)} 外呼 {n}",
)

ROUTING_PATTERNS: tuple[NamePattern, ...] = (
    lambda r, n: f"落地-{r.choice(_CARRIERS_CN)}-{r.choice(_CITIES_CN)}{n}",
    lambda r, n: f"{r.choice(_CARRIERS_LATIN)} {r.choice(_CITIES_LATIN)} {n:02d}",
    lambda r, n: f"trunk.{r.choice(_CARRIERS_LATIN).lower()}.{n}",
    lambda r, n: f"{r.choice(_CITIES_CN)}{r.choice(_CARRIERS_CN)}.{n}",
    lambda r, n: f"LD_{r.choice(_CITIES_LATIN)}-{n:04d}",
)


def shared_name(rng: random.Random, n: int) -> str:
    """A name given to a mapping and a routing gateway alike (an interconnect partner, 互联)."""
    return f"互联 {rng.choice(_COMPANIES_CN)}-{n}"


def make_names(rng: random.Random, patterns: tuple[NamePattern, ...], count: int) -> list[str]:
    return [rng.choice(patterns)(rng, n) for n in range(1, count + 1)]


def company_name(rng: random.Random) -> str:
    return rng.choice(_COMPANIES_CN + _COMPANIES_LATIN)
