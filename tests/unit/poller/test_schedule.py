"""Per-key phases spread first runs over a short window; jitter keeps each run within interval · (1 ± j)."""

import random
import statistics

from vosync.poller.schedule import FIRST_RUN_WINDOW_S, first_delay, next_delay, phase_fraction


def test_phase_is_stable_and_in_range() -> None:
    assert phase_fraction(3, "GetSuite") == phase_fraction(3, "GetSuite")
    assert phase_fraction(3, "GetSuite") != phase_fraction(4, "GetSuite")
    assert 0 <= first_delay(3, "GetSuite", 5) < 5
    assert 0 <= first_delay(3, "GetSuite", 120) < FIRST_RUN_WINDOW_S  # data within seconds of a start


def test_500_instances_spread_over_the_interval() -> None:
    window = min(30.0, FIRST_RUN_WINDOW_S)
    delays = [first_delay(i, "GetGatewayMappingOnline", 30.0) for i in range(1, 501)]
    buckets = [0] * 10
    for d in delays:
        buckets[int(d / window * 10)] += 1
    assert min(buckets) >= 25 and max(buckets) <= 80  # about 50 per tenth of the interval, never a crowd


def test_next_delay_stays_within_jitter() -> None:
    rng = random.Random(5)
    delays = [next_delay(10.0, 0.1, rng) for _ in range(2000)]
    assert all(9.0 <= d <= 11.0 for d in delays)
    assert abs(statistics.mean(delays) - 10.0) < 0.1
    assert statistics.pstdev(delays) > 0.3  # actually jittered
    assert next_delay(10.0, 0.0, rng) == 10.0
