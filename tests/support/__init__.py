"""What many tests need and none owns: waiting for a condition, the documented VOS reply models,
services started for a test, statements on the test PostgreSQL."""
