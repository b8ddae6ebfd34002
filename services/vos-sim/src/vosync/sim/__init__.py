"""VOS3000 web API simulator.

Modules: names/datagen/dataset (seeded data), gateways (per-kind tables with cached reply bytes),
state (one instance's data, drift and control mutations), faults (fault rules, latency), vos_api
(`/external/server/*`), control (`/_sim/*`), instance (one HTTP server), cluster (SimCluster), main (CLI).
"""
