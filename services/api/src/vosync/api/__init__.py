"""vosync."""
