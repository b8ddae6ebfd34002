from vosync.shared.catalogue import Catalogue, GatewayType, Projection
from vosync.shared.messages import FetchResult
from vosync.sim.replies import at, failed, mapping_item, mapping_online_item, ok, reply
from vosync.writer import projection_plan
from vosync.writer.cache_rows import CacheFold, CacheState
from vosync.writer.gateway_rows import parse_online
from vosync.writer.results import key_of

CATALOGUE = Catalogue()
CONFIG, ONLINE = CATALOGUE.spec("GetGatewayMapping"), CATALOGUE.spec("GetGatewayMappingOnline")


def folded(*results: FetchResult) -> CacheFold:
    return CacheFold(key_of(results[0]), list(results), ttl_s=60)


def config(second: int) -> FetchResult:
    return ok("GetGatewayMapping", reply("GetGatewayMapping", [mapping_item("a")]), fetched_at=second)


def online(second: int, *names: str) -> FetchResult:
    items = [mapping_online_item(n) for n in names]
    return ok("GetGatewayMappingOnline", reply("GetGatewayMappingOnline", items), fetched_at=second)


def stored(synced_at_second: int, row_id: int = 7) -> CacheState:
    return CacheState(row_id, "h", True, 0, None, None, at(synced_at_second))


def test_only_unfiltered_replies_of_a_gateway_api_are_projected() -> None:
    assert projection_plan.gateway_spec(CONFIG, config(1)) is CONFIG
    filtered = ok("GetGatewayMapping", {}, params={"names": ["a"]})
    assert projection_plan.gateway_spec(CONFIG, filtered) is None
    assert projection_plan.gateway_spec(None, config(1)) is None
    suite = CATALOGUE.spec("GetSuite")
    assert suite.projection is Projection.SUITES
    assert projection_plan.gateway_spec(suite, ok("GetSuite", {})) is None


def test_a_config_candidate_is_its_newest_success_and_goes_only_when_it_is_the_stored_reply() -> None:
    fold = folded(config(1), config(2), failed("GetGatewayMapping", fetched_at=3))
    candidate = projection_plan.candidate(fold, CONFIG)
    assert candidate is not None
    assert candidate.key == fold.key and candidate.scope == (1, GatewayType.MAPPING)
    assert [r.fetched_at for r in candidate.snapshots] == [at(2)]
    steps = projection_plan.steps(candidate, stored(2), content_changed=True)
    assert [(s.cache_id, s.at, s.parsed) for s in steps] == [(7, at(2), None)]
    assert projection_plan.steps(candidate, stored(2), content_changed=False) == []
    # Another writer stored a newer config: the items in the row are not this reply's.
    assert projection_plan.steps(candidate, stored(5), content_changed=True) == []


def test_every_online_success_is_a_step_and_one_unchanged_list_is_none() -> None:
    fold = folded(online(1, "a"), failed("GetGatewayMappingOnline", fetched_at=2), online(3))
    candidate = projection_plan.candidate(fold, ONLINE)
    assert candidate is not None
    assert [r.fetched_at for r in candidate.snapshots] == [at(1), at(3)]
    backlog = projection_plan.steps(candidate, stored(3), content_changed=False)
    assert [s.at for s in backlog] == [at(1), at(3)]  # a backlog loses no transition
    single = projection_plan.candidate(folded(online(4, "a")), ONLINE)
    assert single is not None
    assert projection_plan.steps(single, stored(4), content_changed=False) == []
    assert len(projection_plan.steps(single, stored(4), content_changed=True)) == 1


def test_snapshots_parsed_ahead_go_with_their_steps_by_position() -> None:
    candidate = projection_plan.candidate(folded(online(1, "a"), online(2, "a", "b")), ONLINE)
    assert candidate is not None
    second = parse_online(candidate.snapshots[1].response, ONLINE.list_key or "", GatewayType.MAPPING)
    steps = projection_plan.steps(candidate, stored(2), True, [None, second])
    assert [s.parsed for s in steps] == [None, second]
    # Parsed snapshots that do not match the candidate's are not used.
    assert [s.parsed for s in projection_plan.steps(candidate, stored(2), True, [second])] == [None, None]


def test_failures_and_unprojected_apis_have_no_candidate_and_no_poll() -> None:
    assert projection_plan.candidate(folded(failed("GetGatewayMappingOnline")), ONLINE) is None
    assert projection_plan.candidate(folded(ok("GetSuite", {})), CATALOGUE.spec("GetSuite")) is None
    assert projection_plan.polled_at(None) is None


def test_an_online_candidate_is_a_poll_at_its_newest_success_and_config_is_none() -> None:
    candidate = projection_plan.candidate(folded(online(1, "a"), online(9)), ONLINE)
    assert projection_plan.polled_at(candidate) == at(9)
    assert projection_plan.polled_at(projection_plan.candidate(folded(config(4)), CONFIG)) is None


def test_only_the_reply_the_cache_row_holds_lends_its_items() -> None:
    candidate = projection_plan.candidate(folded(online(1, "a"), online(2, "b", "a")), ONLINE)
    assert candidate is not None
    steps = projection_plan.steps(candidate, stored(2), content_changed=True)
    # The row holds the newest reply; the older one's positions point at other items there.
    assert [(s.at, s.in_cache_row) for s in steps] == [(at(1), False), (at(2), True)]
    # A newer reply stored than any of the batch's (its success kept, a later failure newer).
    assert [s.in_cache_row for s in projection_plan.steps(candidate, stored(3), True)] == [False, False]
