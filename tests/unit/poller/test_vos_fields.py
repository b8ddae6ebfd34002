"""SIP/Sip spellings of gateway config fields end up as one canonical spelling (`Sip`)."""

from vosync.shared.vos_fields import canonical_field, normalise_item, normalise_list_items


def test_manual_spellings_become_the_wire_spelling() -> None:
    assert canonical_field("dtmfSendMethodSIP") == "dtmfSendMethodSip"
    assert canonical_field("dtmfSendPayloadTypeSIP") == "dtmfSendPayloadTypeSip"
    assert canonical_field("h323CallProceedingFromSIPTrying") == "h323CallProceedingFromSipTrying"
    assert canonical_field("h323AlertingFromSIP183Sdp") == "h323AlertingFromSip183Sdp"
    assert canonical_field("SIPTimer") == "sipTimer"


def test_other_fields_are_untouched() -> None:
    for name in ("dtmfSendMethodSip", "sipT38", "sip100Rel", "remoteIps", "name", "h323FastStart"):
        assert canonical_field(name) == name


def test_both_builds_give_the_same_item() -> None:
    manual = {"name": "gw", "dtmfSendMethodSIP": 1, "h323AlertingFromSIP183Sdp": True}
    wire = {"name": "gw", "dtmfSendMethodSip": 1, "h323AlertingFromSip183Sdp": True}
    assert normalise_item(manual) == normalise_item(wire) == wire


def test_canonical_spelling_wins_when_both_are_present() -> None:
    assert normalise_item({"dtmfSendMethodSIP": 2, "dtmfSendMethodSip": 1}) == {"dtmfSendMethodSip": 1}


def test_only_the_list_items_are_rewritten() -> None:
    reply = {"retCode": 0, "infoGatewayMappings": [{"dtmfSendMethodSIP": 0}, "odd"], "otherSIP": 1}
    out = normalise_list_items(reply, "infoGatewayMappings")
    assert out == {"retCode": 0, "infoGatewayMappings": [{"dtmfSendMethodSip": 0}, "odd"], "otherSIP": 1}
    assert reply["infoGatewayMappings"] == [{"dtmfSendMethodSIP": 0}, "odd"]  # input not mutated
    assert normalise_list_items({"retCode": 0}, "infoGatewayMappings") == {"retCode": 0}


def test_a_reply_with_nothing_to_rewrite_is_returned_as_it_is() -> None:
    reply = {"retCode": 0, "infoGatewayMappings": [{"name": "SIP-trunk", "dtmfSendMethodSip": 0}]}
    assert normalise_list_items(reply, "infoGatewayMappings") is reply  # "SIP" in a value only: no copy
