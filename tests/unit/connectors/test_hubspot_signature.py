"""HubSpot signatures: vectors computed here by hand, HubSpot's published examples, the SDK."""

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import pytest
from hubspot.utils.signature import Signature
from hypothesis import given
from hypothesis import strategies as st

from sales_agent_pipeline.connectors.hubspot_signature import (
    SignatureError,
    canonical_uri,
    public_url,
    sign_v3,
    verify,
)

SECRET = "test-client-secret"
NOW_MS = 1_750_000_000_000
URL = "https://hooks.example.com/webhook/formlead"
BODY = '{"portalId":62515,"formId":"f-1","fieldValues":[{"name":"firstname","value":"José"}]}'
RAW = BODY.encode()


def v3_by_hand(secret: str, method: str, uri: str, body: bytes, stamp: int) -> str:
    """HubSpot's v3 recipe written out: base64(HMAC-SHA256(secret, method+uri+body+stamp))."""
    message = (method + uri + body.decode("utf-8") + str(stamp)).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def v3_headers(signature: str, stamp: int = NOW_MS) -> dict[str, str]:
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(stamp)}


def v2_by_hand(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(
        (secret + method + uri + body.decode("utf-8")).encode("utf-8")
    ).hexdigest()


def v1_by_hand(secret: str, body: bytes) -> str:
    return hashlib.sha256((secret + body.decode("utf-8")).encode("utf-8")).hexdigest()


def legacy_headers(signature: str, version: str | None) -> dict[str, str]:
    headers = {"X-HubSpot-Signature": signature}
    if version is not None:
        headers["X-HubSpot-Signature-Version"] = version
    return headers


def check(
    headers: dict[str, str], *, body: bytes = RAW, url: str = URL, secret: str = SECRET
) -> str:
    return verify(secret=secret, method="POST", url=url, body=body, headers=headers, now_ms=NOW_MS)


def refused(
    headers: dict[str, str], *, body: bytes = RAW, url: str = URL, secret: str = SECRET
) -> str:
    with pytest.raises(SignatureError) as caught:
        check(headers, body=body, url=url, secret=secret)
    return caught.value.reason


def test_valid_v3_and_sign_v3_agree_with_the_hand_computation() -> None:
    signature = v3_by_hand(SECRET, "POST", URL, RAW, NOW_MS)
    assert check(v3_headers(signature)) == "v3"
    assert sign_v3(SECRET, "POST", URL, RAW, NOW_MS) == v3_headers(signature)
    # The method is upper-cased before signing, as HubSpot sends it.
    lower = verify(
        secret=SECRET,
        method="post",
        url=URL,
        body=RAW,
        headers=v3_headers(signature),
        now_ms=NOW_MS,
    )
    assert lower == "v3"


def test_valid_v2_and_v1_including_hubspots_published_examples() -> None:
    assert check(legacy_headers(v2_by_hand(SECRET, "POST", URL, RAW), "v2")) == "v2"
    assert check(legacy_headers(v1_by_hand(SECRET, RAW), "v1")) == "v1"
    assert check(legacy_headers(v1_by_hand(SECRET, RAW), None)) == "v1"
    # The examples on HubSpot's "v1/v2 request validation" pages, digests copied from there.
    docs_secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    v2_doc = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    get = verify(
        secret=docs_secret,
        method="GET",
        url="https://www.example.com/webhook_uri",
        body=b"",
        headers=legacy_headers(v2_doc, "v2"),
        now_ms=NOW_MS,
    )
    assert get == "v2"
    v1_body = (
        b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
        b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
        b'"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
    )
    v1_doc = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert check(legacy_headers(v1_doc, "v1"), body=v1_body, secret=docs_secret) == "v1"


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_the_official_sdk_accepts_what_we_accept(version: str) -> None:
    # The SDK reads the clock itself for v3, so this one delivery is stamped with the real time.
    stamp = int(time.time() * 1000)
    if version == "v3":
        signature = v3_by_hand(SECRET, "POST", URL, RAW, stamp)
        headers = v3_headers(signature, stamp)
    elif version == "v2":
        signature = v2_by_hand(SECRET, "POST", URL, RAW)
        headers = legacy_headers(signature, "v2")
    else:
        signature = v1_by_hand(SECRET, RAW)
        headers = legacy_headers(signature, "v1")
    assert Signature.is_valid(
        signature=signature,
        client_secret=SECRET,
        request_body=BODY,
        http_uri=URL,
        http_method="POST",
        signature_version=version,
        timestamp=str(stamp),
    )
    result = verify(secret=SECRET, method="POST", url=URL, body=RAW, headers=headers, now_ms=stamp)
    assert result == version


@pytest.mark.parametrize(
    "headers",
    [
        v3_headers(v3_by_hand(SECRET, "POST", URL, RAW, NOW_MS)),
        legacy_headers(v2_by_hand(SECRET, "POST", URL, RAW), "v2"),
        legacy_headers(v1_by_hand(SECRET, RAW), "v1"),
    ],
    ids=["v3", "v2", "v1"],
)
def test_tampered_body_and_wrong_secret_are_refused(headers: dict[str, str]) -> None:
    assert check(headers) in {"v1", "v2", "v3"}
    assert refused(headers, body=RAW.replace(b"f-1", b"f-2")) == "signature mismatch"
    with pytest.raises(SignatureError) as caught:
        check(headers, secret="another-secret")
    assert caught.value.reason == "signature mismatch"
    # The reason is safe to echo: neither secret nor a digest leaks through it.
    assert SECRET not in str(caught.value)
    assert next(iter(headers.values())) not in str(caught.value)


@pytest.mark.parametrize(
    ("offset_ms", "reason"),
    [(-300_001, "stale timestamp"), (300_001, "timestamp in the future")],
)
def test_timestamps_beyond_five_minutes_either_way_are_refused(offset_ms: int, reason: str) -> None:
    stamp = NOW_MS + offset_ms
    signature = v3_by_hand(SECRET, "POST", URL, RAW, stamp)
    assert refused(v3_headers(signature, stamp)) == reason
    # Exactly five minutes is still inside the window.
    edge = NOW_MS + (300_000 if offset_ms > 0 else -300_000)
    assert check(v3_headers(v3_by_hand(SECRET, "POST", URL, RAW, edge), edge)) == "v3"


def test_a_uri_with_encoded_characters_is_signed_with_hubspots_escapes_decoded() -> None:
    sent = "https://hooks.example.com/webhook/a%2Fb/formlead?q=a%3Ab%40c&r=x%20y%3d1&s=%28%2a%29"
    signed_as = "https://hooks.example.com/webhook/a/b/formlead?q=a:b@c&r=x%20y%3d1&s=(*)"
    assert canonical_uri(sent) == signed_as
    signature = v3_by_hand(SECRET, "POST", signed_as, RAW, NOW_MS)
    assert check(v3_headers(signature), url=sent) == "v3"
    # Signed over the URI as sent, the digest is not HubSpot's and must not pass.
    assert refused(v3_headers(v3_by_hand(SECRET, "POST", sent, RAW, NOW_MS)), url=sent) == (
        "signature mismatch"
    )


def test_canonical_uri_decodes_exactly_hubspots_list_in_either_case() -> None:
    listed = {"3A": ":", "2F": "/", "3F": "?", "40": "@", "21": "!", "24": "$", "27": "'"}
    listed |= {"28": "(", "29": ")", "2A": "*", "2C": ",", "3B": ";"}
    for hex_code, char in listed.items():
        assert canonical_uri(f"https://h/p?x=%{hex_code}") == f"https://h/p?x={char}"
        assert canonical_uri(f"https://h/p?x=%{hex_code.lower()}") == f"https://h/p?x={char}"
    untouched = "https://h/p?x=%20%25%26%3D%2B%23%5B%5D%253A"
    assert canonical_uri(untouched) == untouched


def test_a_proxied_uri_verifies_only_when_the_proxy_is_trusted() -> None:
    signature = v3_by_hand(SECRET, "POST", URL, RAW, NOW_MS)
    headers = {
        **v3_headers(signature),
        "X-Forwarded-Proto": "https, http",
        "X-Forwarded-Host": "hooks.example.com, 10.0.0.5",
        "Host": "127.0.0.1:8000",
    }

    def seen(trust: bool) -> str:
        return public_url(
            "http", "127.0.0.1:8000", "/webhook/formlead", headers, trust_forwarded=trust
        )

    assert seen(True) == URL
    assert check(headers, url=seen(True)) == "v3"
    assert seen(False) == "http://127.0.0.1:8000/webhook/formlead"
    assert refused(headers, url=seen(False)) == "signature mismatch"


def test_forwarded_port_is_added_only_when_missing_and_not_the_default() -> None:
    def url(headers: dict[str, str]) -> str:
        return public_url("http", "10.0.0.5", "/w?a=1", headers, trust_forwarded=True)

    base = {"x-forwarded-proto": "https", "x-forwarded-host": "h.example.com"}
    assert url({**base, "x-forwarded-port": "8443"}) == "https://h.example.com:8443/w?a=1"
    assert url({**base, "x-forwarded-port": "443"}) == "https://h.example.com/w?a=1"
    with_port = {**base, "x-forwarded-host": "h.example.com:9000", "x-forwarded-port": "8443"}
    assert url(with_port) == "https://h.example.com:9000/w?a=1"
    assert url({}) == "http://10.0.0.5/w?a=1"


def test_missing_or_malformed_headers_are_refused() -> None:
    assert refused({}) == "missing signature"
    assert refused({"X-HubSpot-Signature-Version": "v2"}) == "missing signature"
    signature = v3_by_hand(SECRET, "POST", URL, RAW, NOW_MS)
    assert refused({"X-HubSpot-Signature-v3": signature}) == "missing timestamp"
    assert refused(v3_headers(signature) | {"X-HubSpot-Request-Timestamp": "soon"}) == (
        "invalid timestamp"
    )
    with pytest.raises(SignatureError, match="no secret"):
        check(v3_headers(signature), secret="")


def test_an_unsupported_version_is_refused() -> None:
    headers = legacy_headers(v1_by_hand(SECRET, RAW), "v4")
    assert refused(headers) == "unsupported signature version"


@pytest.mark.parametrize("spell", [str.lower, str.upper, str.title])
def test_header_names_are_case_insensitive(spell: Callable[[str], str]) -> None:
    v3 = v3_headers(v3_by_hand(SECRET, "POST", URL, RAW, NOW_MS))
    assert check({spell(name): value for name, value in v3.items()}) == "v3"
    v2 = legacy_headers(v2_by_hand(SECRET, "POST", URL, RAW), "v2")
    assert check({spell(name): value for name, value in v2.items()}) == "v2"


def test_v3_wins_and_never_falls_back_to_an_older_version() -> None:
    good_v1 = legacy_headers(v1_by_hand(SECRET, RAW), "v1")
    good_v3 = v3_headers(v3_by_hand(SECRET, "POST", URL, RAW, NOW_MS))
    assert check({**good_v1, **good_v3}) == "v3"
    # A bad v3 next to a good v1 is refused: v1 has no timestamp, so it would allow replays.
    assert refused({**good_v1, **v3_headers("AAAA")}) == "signature mismatch"


@given(body=st.binary(min_size=1, max_size=300), data=st.data())
def test_any_single_byte_change_of_the_body_fails_v3(body: bytes, data: st.DataObject) -> None:
    # Bytes-level HMAC here: a random body need not be UTF-8, so it cannot go through str.
    message = b"POST" + URL.encode() + body + str(NOW_MS).encode()
    mac = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
    headers = v3_headers(base64.b64encode(mac).decode())
    assert check(headers, body=body) == "v3"
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    changed = bytearray(body)
    changed[index] ^= flip
    with pytest.raises(SignatureError, match="signature mismatch"):
        check(headers, body=bytes(changed))
