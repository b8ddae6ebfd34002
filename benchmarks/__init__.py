"""vosync benchmarks: each measures vosync beside a baseline in the same run."""
