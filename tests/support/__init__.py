"""What many tests need and none owns: waiting for a condition, the documented VOS reply models,
services started for a test (in-process or as child processes), statements on the test PostgreSQL,
a private PostgreSQL of a test's own, and installing a Debian package a test suite needs."""
