import pytest

from destinations import http
from destinations.errors import DeliveryError


def test_an_unresolvable_host_is_retried_not_failed_for_good(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(DeliveryError) as info:
        http.send("POST", "http://no-such-host.invalid/hook", json={}, user_url=True)
    assert info.value.retryable is True
    assert "cannot be resolved" in info.value.message


def test_a_private_address_is_refused_for_good(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(DeliveryError) as info:
        http.send("POST", "http://127.0.0.1:9/hook", json={}, user_url=True)
    assert info.value.retryable is False
    assert "private or local address" in info.value.message
