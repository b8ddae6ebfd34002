"""The history domain of the api: one gateway's transitions, uptime and samples."""
