"""Our messages' extra header fields (List-Unsubscribe) in the raw RFC 2822 bytes."""

from __future__ import annotations

import base64

import pytest

from sales_agent_pipeline.connectors.gmail_mime import build_message, encode_raw
from sales_agent_pipeline.domain.models import OutgoingMail


def test_a_mailbox_message_carries_its_extra_headers_and_refuses_our_own() -> None:
    mail = OutgoingMail(
        to=("jordan@acme.example",),
        subject="Hello",
        text_body="Hi",
        headers=(
            ("List-Unsubscribe", "<https://agent.example/unsubscribe/T>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )
    raw = base64.urlsafe_b64decode(encode_raw(build_message(mail))).decode()
    assert "\r\nList-Unsubscribe: <https://agent.example/unsubscribe/T>\r\n" in raw
    assert "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    with pytest.raises(ValueError, match="own fields"):
        build_message(mail.model_copy(update={"headers": (("To", "x@y.example"),)}))
    with pytest.raises(ValueError, match="line break"):
        build_message(mail.model_copy(update={"headers": (("X-A", "a\r\nBcc: x@y.example"),)}))
