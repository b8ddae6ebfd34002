"""VOS field spellings that differ between VOS3000 builds, brought to one canonical spelling.

The VOS manual spells SIP fields of gateway config in capitals (`dtmfSendMethodSIP`,
`dtmfSendPayloadTypeSIP`, `h323CallProceedingFromSIPTrying`, `h323AlertingFromSIP183Sdp`); the VOS
builds' own test pages and the older system send and read `…Sip` (`dtmfSendMethodSip`,
`h323CallProceedingFromSipTrying`, `h323AlertingFromSip183Sdp`). Reference §3.1.

**Canonical spelling: `Sip`** (camel case, as the wire of the builds we know). The poller rewrites
the keys of every item of a gateway reply's list (`infoGatewayMappings`, `infoGatewayRoutings`, …)
to it before publishing, so the cache, the gateways table and every reader see one spelling.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SIP_CAPS = re.compile("SIP")


def canonical_field(name: str) -> str:
    """`dtmfSendMethodSIP` → `dtmfSendMethodSip`; a leading `SIP` becomes `sip` (camel case)."""
    if "SIP" not in name:
        return name
    if name.startswith("SIP"):
        name = "sip" + name[3:]
    return _SIP_CAPS.sub("Sip", name)


def normalise_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """The item with canonical keys; when both spellings are present the canonical one wins."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        canonical = canonical_field(key)
        if canonical != key and canonical in item:
            continue  # the item carries both spellings: keep the one already canonical
        out[canonical] = value
    return out


def normalise_list_items(reply: dict[str, Any], list_key: str) -> dict[str, Any]:
    """`reply` with its `list_key` items' keys canonical: `reply` itself when none needs rewriting
    (VOS builds that already send `Sip`: no copy), otherwise a copy (other keys and shapes untouched).
    """
    items = reply.get(list_key)
    if not isinstance(items, list) or not _any_key_to_rewrite(items):
        return reply
    normalised = [normalise_item(item) if isinstance(item, Mapping) else item for item in items]
    return {**reply, list_key: normalised}


def _any_key_to_rewrite(items: list[Any]) -> bool:
    # Items of one reply share their keys: one set of them is checked, not every key of every item.
    names: set[Any] = set().union(*(item.keys() for item in items if isinstance(item, Mapping)))
    return any(isinstance(name, str) and canonical_field(name) != name for name in names)
