"""The status domain of the api: what `vosync status` shows."""
