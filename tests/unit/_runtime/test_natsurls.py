"""NSED_NATS_URL as a list of servers: splitting, comparing, and widening a setting to
every node of the local cluster."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services._runtime import natsurls

hosts = st.sampled_from(["127.0.0.1", "localhost", "nats-1", "10.0.0.7", "example.org"])
ports = st.integers(min_value=1, max_value=65535)
urls = st.builds(lambda h, p: f"nats://{h}:{p}", hosts, ports)
url_lists = st.lists(urls, min_size=1, max_size=6)
spaces = st.sampled_from(["", " ", "  "])


@given(url_lists, spaces)
def test_a_joined_list_splits_back_into_the_same_urls_whatever_the_spacing(
    listed: list[str], space: str
) -> None:
    assert natsurls.split(natsurls.join(listed)) == listed
    assert natsurls.split(f",{space}".join(listed) + ",") == listed


@pytest.mark.parametrize("value", ["", " ", ",", " , ,"])
def test_a_setting_without_a_url_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="no NATS URL"):
        natsurls.split(value)


def test_localhost_is_the_loopback_and_the_port_defaults_to_4222() -> None:
    assert natsurls.listener("nats://localhost") == ("127.0.0.1", 4222)
    assert natsurls.listener("127.0.0.1:4223") == ("127.0.0.1", 4223)
    assert natsurls.overlap("nats://localhost:4222", "nats://127.0.0.1:4222,nats://x:1")


@given(url_lists, url_lists)
def test_overlap_is_symmetric_and_true_exactly_when_a_listener_is_shared(
    a: list[str], b: list[str]
) -> None:
    joined_a, joined_b = natsurls.join(a), natsurls.join(b)
    assert natsurls.overlap(joined_a, joined_b) == natsurls.overlap(joined_b, joined_a)
    shared = {natsurls.listener(u) for u in a} & {natsurls.listener(u) for u in b}
    assert natsurls.overlap(joined_a, joined_b) == bool(shared)
    assert natsurls.overlap(joined_a, joined_a)


@given(url_lists, url_lists)
def test_widening_keeps_every_given_url_and_adds_the_cluster_only_when_it_reaches_it(
    given_urls: list[str], recorded: list[str]
) -> None:
    given_setting = natsurls.join(given_urls)
    widened = natsurls.widen(given_setting, recorded)
    assert natsurls.listeners(given_setting) <= natsurls.listeners(widened)
    if natsurls.overlap(given_setting, natsurls.join(recorded)):
        assert natsurls.listeners(widened) == (
            natsurls.listeners(given_setting) | natsurls.listeners(natsurls.join(recorded))
        )
    else:
        assert widened == given_setting
