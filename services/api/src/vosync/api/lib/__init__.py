"""Building blocks shared by the api's domains (no Litestar routes here)."""
