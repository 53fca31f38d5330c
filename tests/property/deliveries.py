"""Hypothesis strategies of webhook deliveries: HubSpot's documented form-submission bodies,
mutated (wrong types, odd numbers and text, missing and extra fields, deep nesting), encoded
well or badly, and sent with valid, invalid or missing signatures and odd headers."""

from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from sales_agent_pipeline.connectors.hubspot_signature import (
    LEGACY_HEADER,
    VERSION_HEADER,
    sign_v3,
)
from tests.integration.api.conftest import FORM, SECRET, URL_PATH

TARGET = f"http://testserver{URL_PATH}"
# How each delivery is signed; "v3" is what HubSpot sends.
SIGNINGS = (
    "v3",
    "v3-other-secret",
    "v3-stale",
    "v3-future",
    "v3-bad-stamp",
    "v3-garbage",
    "v2",
    "v1",
    "v1-other-secret",
    "unsigned",
)
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/json;;; x",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "",
    None,
)


def nested(depth: int, leaf: Any = "x") -> Any:
    """`leaf` inside `depth` lists and objects, alternating."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


odd_integers = st.integers() | st.sampled_from(
    [0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**100, -(10**300)]
)
odd_floats = st.floats() | st.sampled_from([1e308, -0.0, 5e-324, 1.5])
odd_text = (
    st.text(max_size=24)
    | st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\ud800",
            "x\udfffy",
            "\ufeff",
            "\u202e",
            "😀",
            "\U0010ffff",
            "e\u0301",
            "",
            " ",
            "null",
            "1e400",
            "NaN",
        ]
    )
    | st.builds(
        lambda unit, count: unit * count,
        st.sampled_from(["a", "é", "😀", "\x00", "\ud800"]),
        st.sampled_from([64, 255, 256, 300, 5000]),
    )
)
scalars = st.none() | st.booleans() | odd_integers | odd_floats | odd_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=6,
) | st.builds(nested, st.integers(1, 80), scalars)
emails = st.sampled_from(
    ["jane@acme-robotics.example", "Jane.Doe+tag@Acme-Robotics.Example", "üñí@acme.example"]
) | st.sampled_from(["no-at-sign", "a@b", "x" * 70 + "@acme.example", "jane@acme\x00.example", ""])


def _fields(email: str, first: Any, company: Any) -> list[dict[str, Any]]:
    return [
        {"name": "email", "value": email},
        {"name": "firstname", "value": first},
        {"name": "company", "value": company},
    ]


# Built once: a strategy made inside a composite is validated again at every draw.
submission_ids = st.builds(lambda u, n: u.hex[:n], st.uuids(), st.integers(4, 32))
stamps = st.sampled_from((1_700_000_000_000, "2024-01-02T03:04:05Z", -1, 10**20, "soon"))
first_names = st.sampled_from(("Jane", "José", "", None, ("a", "b"), {"value": "Jo"}))
companies = st.sampled_from(("Acme Robotics", "", "C" * 255, None))
SHAPES = ("form", "listing", "fields", "contact", "legacy", "batch")
shapes = st.sampled_from(SHAPES)
batch_sizes = st.integers(1, 3)


@st.composite
def documents(draw: st.DrawFn, portal_id: int) -> Any:
    """One of HubSpot's form-submission shapes for this portal (or a batch of them)."""
    shape = draw(shapes)
    if shape == "batch":
        return [draw(documents(portal_id)) for _ in range(draw(batch_sizes))]
    submission, stamp, email = draw(submission_ids), draw(stamps), draw(emails)
    chosen = draw(first_names)  # a fresh copy: mutations change documents in place
    first: Any = list(chosen) if isinstance(chosen, tuple) else copy.deepcopy(chosen)
    company = draw(companies)
    if shape == "legacy":
        return {
            "vid": 51,
            "portal-id": portal_id,
            "properties": {"email": {"value": email}, "firstname": {"value": first}},
            "form-submissions": [
                {
                    "conversion-id": submission,
                    "timestamp": stamp,
                    "form-id": FORM,
                    "portal-id": portal_id,
                }
            ],
        }
    base: dict[str, Any] = {"portalId": portal_id, "formId": FORM, "submittedAt": stamp}
    if shape == "form":
        fields = _fields(email, first, company)
        return {**base, "formSubmissionId": submission, "fieldValues": fields}
    if shape == "listing":
        return {
            **base,
            "conversionId": submission,
            "pageUrl": "https://acme.example/contact",
            "values": _fields(email, first, company),
        }
    if shape == "fields":
        return {**base, "submissionId": submission, "fields": _fields(email, first, company)}
    return {
        **base,
        "formSubmissionId": submission,
        "properties": {"email": email, "firstname": first, "company": company},
    }


def _slots(value: Any, slots: list[tuple[Any, Any]]) -> None:
    """Every (container, key) of the document, depth first."""
    if isinstance(value, dict):
        for key in value:
            slots.append((value, key))
            _slots(value[key], slots)
    elif isinstance(value, list):
        for index in range(len(value)):
            slots.append((value, index))
            _slots(value[index], slots)


mutation_counts = st.integers(0, 3)
operations = st.sampled_from(("replace", "replace", "delete", "add", "add", "wrap", "root"))
either = st.booleans()
positions = st.integers(0, 10**6)


@st.composite
def mutated(draw: st.DrawFn, portal_id: int) -> Any:
    """A document with up to three of its values replaced, removed, added to or re-typed,
    or itself wrapped or replaced."""
    document = draw(documents(portal_id))
    for _ in range(draw(mutation_counts)):
        slots: list[tuple[Any, Any]] = []
        _slots(document, slots)
        operation = draw(operations)
        if operation == "root" or not slots:
            wrapped = [document] if draw(either) else {"event": document}
            document = wrapped if draw(either) else draw(json_values)
            continue
        container, key = slots[draw(positions) % len(slots)]
        if operation == "replace":
            container[key] = draw(json_values)
        elif operation == "delete":
            del container[key]
        elif operation == "wrap":
            container[key] = [container[key]] if draw(either) else {"value": container[key]}
        elif isinstance(container, dict):
            container[draw(odd_text)] = draw(json_values)
        else:
            container.append(draw(json_values))
    return document


# Texts a JSON encoder would never write: whole bodies, and values spliced into a document.
RAW_BODIES = [
    b"",
    b" ",
    b"null",
    b"[]",
    b"{}",
    b'{"portalId": 1, "portalId": 2}',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b'{"a": "\xff"}',
    b'{"padding": "' + b"x" * 300_000 + b'"}',
]
RAW_VALUES = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"-0",
    b"18446744073709551616",
    b"9" * 5000,
    b"-" + b"1" * 400,
    b'"\\ud800"',
    b'"\\u0000"',
    b'"\\udc00\\ud800"',
    b'"\\ud83d\\ude00"',
    b"[" * 40 + b"]" * 40,
    b"[" * 3000 + b"]" * 3000,
    b'{"value": NaN}',
]
INVALID_BYTES = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\xf4\x90\x80\x80", b"\x80"]
_TOKEN = "@@raw@@"


def _with_token(document: Any, slots: list[tuple[Any, Any]], at: int) -> Any:
    """The document with one value (or a new one) standing in for a raw token."""
    if slots and at < len(slots):
        container, key = slots[at]
        container[key] = _TOKEN
    elif isinstance(document, dict):
        document["extra"] = _TOKEN
    elif isinstance(document, list):
        document.append(_TOKEN)
    else:
        document = _TOKEN
    return document


encodings = st.sampled_from(
    ("ascii", "ascii", "ascii", "token", "token", "utf-8", "utf-16", "raw", "bytes", "cut")
)
raw_bodies = st.sampled_from(RAW_BODIES) | st.binary(max_size=64)
raw_values = st.sampled_from(RAW_VALUES)
invalid_bytes = st.sampled_from(INVALID_BYTES)


@st.composite
def bodies(draw: st.DrawFn, portal_id: int) -> bytes:
    """A mutated document encoded well or badly, one with a raw value no encoder writes, or
    a raw text."""
    encoding = draw(encodings)
    if encoding == "raw":
        return draw(raw_bodies)
    document = draw(mutated(portal_id))
    if encoding == "utf-8":
        # Lone surrogates go out as the invalid bytes a careless sender writes.
        return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if encoding == "utf-16":
        return json.dumps(document, ensure_ascii=False).encode("utf-16", "surrogatepass")
    if encoding == "token":
        slots: list[tuple[Any, Any]] = []
        _slots(document, slots)
        document = _with_token(document, slots, draw(positions) % (len(slots) + 3))
        return json.dumps(document).encode().replace(f'"{_TOKEN}"'.encode(), draw(raw_values), 1)
    raw = json.dumps(document).encode()
    at = draw(positions) % (len(raw) + 1)
    if encoding == "cut":
        return raw[:at]
    return raw[:at] + draw(invalid_bytes) + raw[at:]


@dataclass(frozen=True)
class Delivery:
    """What one request sends: the body, how it is signed and its other headers."""

    body: bytes
    signing: str
    content_type: str | None
    extra: dict[str, str] = field(default_factory=dict)
    chunked: bool = False

    def headers(self) -> dict[str, bytes]:
        """The request's headers, signatures computed now (timestamps are checked); bytes,
        as they go on the wire (Latin-1 text in the extra ones)."""
        now = int(time.time() * 1000)
        headers: dict[str, str] = {}
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        kind = self.signing
        if kind.startswith("v3"):
            secret = "another-secret" if kind == "v3-other-secret" else SECRET
            stamp = {"v3-stale": now - 600_000, "v3-future": now + 600_000}.get(kind, now)
            headers.update(sign_v3(secret, "POST", TARGET, self.body, stamp))
            if kind == "v3-bad-stamp":
                headers["X-HubSpot-Request-Timestamp"] = "12a"
            if kind == "v3-garbage":
                headers["X-HubSpot-Signature-v3"] = "not base64 ü"
        elif kind in ("v1", "v1-other-secret", "v2"):
            secret = "another-secret" if kind == "v1-other-secret" else SECRET
            source = secret.encode() + (b"POST" + TARGET.encode() if kind == "v2" else b"")
            headers[LEGACY_HEADER] = hashlib.sha256(source + self.body).hexdigest()
            headers[VERSION_HEADER] = "v2" if kind == "v2" else "v1"
        merged = {**headers, **self.extra}
        return {name: value.encode("latin-1") for name, value in merged.items()}


header_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
    max_size=40,
)
extra_headers = st.dictionaries(
    st.sampled_from(
        [
            "X-Forwarded-Host",
            "X-Forwarded-Proto",
            "X-Forwarded-Port",
            "X-HubSpot-Signature-Version",
            "X-HubSpot-Request-Timestamp",
            "X-HubSpot-Signature-v3",
            "Content-Encoding",
            "Authorization",
            "Host",
        ]
    ),
    header_text,
    max_size=2,
)


tenths = st.integers(0, 9)
signings = st.sampled_from(SIGNINGS)
content_types = st.sampled_from(CONTENT_TYPES)


@st.composite
def deliveries(draw: st.DrawFn, portal_id: int, *, mostly_valid_headers: bool) -> Delivery:
    """A body and a header set; with `mostly_valid_headers` most are signed as HubSpot signs,
    so the body reaches every check up to the insert."""
    body = draw(bodies(portal_id))
    if mostly_valid_headers and draw(tenths) < 8:
        return Delivery(body, "v3", "application/json")
    return Delivery(body, draw(signings), draw(content_types), draw(extra_headers), draw(either))
