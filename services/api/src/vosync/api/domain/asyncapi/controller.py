"""The system's AsyncAPI document (`/schema/asyncapi.json`, generated from the shared channels) and
a plain server-rendered page of it (`/schema/asyncapi`): open, like the rest of /schema."""

from __future__ import annotations

from functools import cache
from html import escape
from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from litestar.response import Response as LitestarResponse

from vosync.shared import asyncapi, channels
from vosync.shared.channels import Channel
from vosync.shared.settings import Settings

ASYNCAPI_JSON_PATH = "/schema/asyncapi.json"
ASYNCAPI_PAGE_PATH = "/schema/asyncapi"


@get(ASYNCAPI_JSON_PATH, include_in_schema=False, media_type="application/json", sync_to_thread=False)
def asyncapi_json(state: State) -> LitestarResponse[str]:
    """The document with this deployment's NATS servers (credentials removed) as its servers."""
    settings: Settings = state.settings
    servers = asyncapi.public_servers(settings.nats_url)
    return Response(asyncapi.document_json(servers), media_type="application/json")


@get(ASYNCAPI_PAGE_PATH, include_in_schema=False, media_type="text/html", sync_to_thread=False)
def asyncapi_page() -> LitestarResponse[str]:
    return Response(_page(), media_type="text/html")


def _fields(ch: Channel[Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{escape(str(field.annotation))}</td>"
        f"<td>{escape(field.description or '')}</td></tr>"
        for name, field in ch.model.model_fields.items()
    )
    return f"<table><tr><th>field</th><th>type</th><th>meaning</th></tr>{rows}</table>"


def _channel(ch: Channel[Any]) -> str:
    publisher, consumer = asyncapi.SIDES.get(ch.name, ("?", "?"))
    facts = [f"published by the <b>{escape(publisher)}</b>, consumed by the <b>{escape(consumer)}</b>"]
    facts.append(f"stream <code>{escape(ch.stream)}</code>" if ch.stream else "core NATS (no stream)")
    if ch.queue:
        facts.append(f"queue group <code>{escape(ch.queue)}</code>")
    if ch.reply is not None:
        facts.append(f"reply: {escape(ch.reply.__name__)}")
    headers = "".join(
        f"<li><code>{escape(name)}</code>: {escape(meaning)}</li>" for name, meaning in ch.headers.items()
    )
    return (
        f"<section><h2><code>{escape(ch.pattern)}</code></h2><p>{escape(ch.description)}</p>"
        f"<p>{'; '.join(facts)}.</p><h3>payload: {escape(ch.model.__name__)}</h3>{_fields(ch)}"
        + (f"<h3>headers</h3><ul>{headers}</ul>" if headers else "")
        + "</section>"
    )


@cache
def _page() -> str:
    body = "".join(_channel(ch) for ch in channels.ALL)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>vosync messages</title>"
        "<style>body{font-family:sans-serif;max-width:60rem;margin:auto;padding:1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .4rem;text-align:left}"
        "</style></head><body><h1>vosync NATS channels</h1>"
        f'<p>The same as the AsyncAPI document <a href="{ASYNCAPI_JSON_PATH}">{ASYNCAPI_JSON_PATH}</a>.</p>'
        f"{body}</body></html>"
    )
