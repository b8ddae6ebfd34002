"""Instance input checks and gateway search escaping."""

import pytest
from litestar.exceptions import ClientException

from vosync.api.domain.instances.service import clean_base_url, clean_name
from vosync.api.lib.text_search import _like_pattern
from vosync.api.lib.validate import check_text


@pytest.mark.parametrize(
    ("url", "cleaned"),
    [
        ("http://10.0.0.5", "http://10.0.0.5"),
        ("https://vos.example.com:8443/", "https://vos.example.com:8443"),
        (" http://[::1]:8080 ", "http://[::1]:8080"),
    ],
)
def test_good_base_urls(url: str, cleaned: str) -> None:
    assert clean_base_url(url) == cleaned


@pytest.mark.parametrize(
    "url",
    ["ftp://h", "http://", "10.0.0.5", "http://[::1", "http://h:99999", "http://a b", "http://h\x00", "://x"],
)
def test_bad_base_urls_are_400(url: str) -> None:
    with pytest.raises(ClientException) as info:
        clean_base_url(url)
    assert info.value.status_code == 400 and "base_url" in info.value.detail


def test_text_checks() -> None:
    assert clean_name("  vos-1 ") == "vos-1"
    for bad in ("   ", "a\x00b", "\ud800"):
        with pytest.raises(ClientException):
            clean_name(bad)
    with pytest.raises(ClientException):
        check_text("x\x00", "q")


def test_like_pattern_escapes_wildcards() -> None:
    assert _like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"
