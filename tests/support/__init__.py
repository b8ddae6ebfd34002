"""What many tests need and none owns: waiting for a condition, the documented VOS reply models."""
