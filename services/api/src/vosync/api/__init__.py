"""vosync api: the Litestar read API, the cached VOS proxy, gateway events over SSE and the gateway page."""
