"""Classifying what arrives in a watched mailbox, on real-looking raw messages."""

from __future__ import annotations

import uuid

from sales_agent_pipeline.domain.compliance import InboundKind
from sales_agent_pipeline.steps.inbound_mail import classify, from_raw, workflows_referenced

MAILBOX = "alex@ourco.example"
WORKFLOW = uuid.UUID("0b9f6a4e-3c1d-4d2a-9a51-7b0c2e8d4f10")
OURS = f"<sales-agent.{WORKFLOW}@sales-agent.local>"


def _mail(text: str, labels: tuple[str, ...] = ("INBOX", "UNREAD")):
    raw = text.strip("\n").replace("\n", "\r\n").encode()
    return from_raw(raw, message_id="m1", thread_id="t1", label_ids=labels)


GMAIL_DSN = f"""
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: {MAILBOX}
Subject: Delivery Status Notification (Failure)
Message-ID: <000000000000a1b2c3@google.com>
In-Reply-To: {OURS}
References: {OURS}
Auto-Submitted: auto-replied
X-Failed-Recipients: nobody@acme.example
MIME-Version: 1.0
Content-Type: multipart/report; boundary="b1"; report-type=delivery-status

--b1
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to nobody@acme.example because the address couldn't be found.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Arrival-Date: Mon, 07 Dec 2026 09:00:00 -0800

Final-Recipient: rfc822; nobody@acme.example
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.acme.example. (192.0.2.1, the server for the domain acme.example.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.
Last-Attempt-Date: Mon, 07 Dec 2026 09:00:01 -0800

--b1
Content-Type: text/rfc822-headers

From: Alex <{MAILBOX}>
To: nobody@acme.example
Subject: Your demo request
Message-ID: {OURS}

--b1--
"""

OUTLOOK_NDR = """
From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@ourco.onmicrosoft.com>
To: alex@ourco.example
Subject: Undeliverable: Your demo request
Message-ID: <7a1c9e0e-1d5e-4d57-9f8a-bd5e4f0a2b11@BN8PR04MB6226.namprd04.prod.outlook.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="_000_NDR_"

--_000_NDR_
Content-Type: text/plain; charset="us-ascii"

Delivery has failed to these recipients or groups:

gone@contoso.example
The email address you entered couldn't be found.

--_000_NDR_
Content-Type: message/delivery-status

Reporting-MTA: dns;BN8PR04MB6226.namprd04.prod.outlook.com
Received-From-MTA: dns;ourco.example
Arrival-Date: Mon, 7 Dec 2026 17:00:00 +0000

Final-Recipient: rfc822;gone@contoso.example
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient
 gone@contoso.example not found by SMTP address lookup

--_000_NDR_
Content-Type: message/rfc822

From: Alex <alex@ourco.example>
To: gone@contoso.example
Subject: Your demo request
Message-ID: <sales-agent.0b9f6a4e-3c1d-4d2a-9a51-7b0c2e8d4f10@sales-agent.local>

Hello

--_000_NDR_--
"""

SOFT_BOUNCE = """
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: alex@ourco.example
Subject: Delivery Status Notification (Delay)
Auto-Submitted: auto-replied
Content-Type: multipart/report; boundary="b2"; report-type=delivery-status

--b2
Content-Type: text/plain

Message temporarily deferred.

--b2
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com

Final-Recipient: rfc822; full@acme.example
Action: delayed
Status: 4.2.2
Diagnostic-Code: smtp; 452 4.2.2 The email account that you tried to reach is over quota.

--b2--
"""

AUTO_REPLY = f"""
From: Jane Doe <jane@acme.example>
To: {MAILBOX}
Subject: Automatic reply: Your demo request
In-Reply-To: {OURS}
Auto-Submitted: auto-replied
X-Autoreply: yes
Content-Type: text/plain

I am out of the office until Monday.
"""

REPLY = f"""
From: "Jane Doe" <Jane@Acme.example>
To: Alex <{MAILBOX}>
Subject: Re: Your demo request
Message-ID: <CAJane123@mail.gmail.com>
In-Reply-To: {OURS}
References: {OURS}
Content-Type: text/plain; charset="UTF-8"

Thursday works for me.

On Mon, Dec 7, 2026 at 9:00 AM Alex <{MAILBOX}> wrote:
> Would Thursday at 10 suit you?
> -- unsubscribe: https://api.ourco.example/unsubscribe/abc
"""

UNSUBSCRIBE = """
From: jane@acme.example
To: alex@ourco.example
Subject: unsubscribe gAAAAABnZ3x1-token_value.AbC=
Content-Type: text/plain

This message was sent by the mail client's unsubscribe button.
"""


def test_a_gmail_dsn_is_a_hard_bounce_of_its_final_recipient_naming_our_workflow() -> None:
    verdict = classify(_mail(GMAIL_DSN), mailbox=MAILBOX)
    assert verdict.kind is InboundKind.BOUNCE
    [failure] = verdict.failures
    assert (failure.address, failure.status) == ("nobody@acme.example", "5.1.1")
    assert "does not exist" in (failure.diagnostic or "")
    assert verdict.workflow_ids == (WORKFLOW,)


def test_an_outlook_ndr_is_a_hard_bounce_and_names_the_message_it_reports_on() -> None:
    verdict = classify(_mail(OUTLOOK_NDR), mailbox=MAILBOX)
    assert verdict.kind is InboundKind.BOUNCE
    [failure] = verdict.failures
    assert (failure.address, failure.status) == ("gone@contoso.example", "5.1.10")
    assert "RecipientNotFound" in (failure.diagnostic or "")
    # No In-Reply-To: the original comes from the returned message's headers.
    assert verdict.workflow_ids == (WORKFLOW,)


def test_a_soft_bounce_is_ignored() -> None:
    verdict = classify(_mail(SOFT_BOUNCE), mailbox=MAILBOX)
    assert verdict.kind is InboundKind.OTHER
    assert "soft bounce (4.2.2)" in verdict.why


def test_a_notice_without_a_status_part_falls_back_to_x_failed_recipients() -> None:
    text = f"""
From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>
To: {MAILBOX}
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: lost@acme.example
Auto-Submitted: auto-replied
Content-Type: text/plain

This message was created automatically by mail delivery software.
  lost@acme.example
    host mx.acme.example said: 550 5.1.1 <lost@acme.example>: User unknown
"""
    verdict = classify(_mail(text), mailbox=MAILBOX)
    assert verdict.kind is InboundKind.BOUNCE
    assert [(f.address, f.status) for f in verdict.failures] == [("lost@acme.example", "5.1.1")]


def test_an_auto_reply_is_not_a_reply() -> None:
    verdict = classify(_mail(AUTO_REPLY), mailbox=MAILBOX)
    assert verdict.kind is InboundKind.OTHER
    assert verdict.why == "automatic (Auto-Submitted: auto-replied)"
    for header in ("X-Autoreply: yes", "Precedence: bulk", "Auto-Submitted: auto-generated"):
        text = AUTO_REPLY.replace("Auto-Submitted: auto-replied\nX-Autoreply: yes", header)
        assert classify(_mail(text), mailbox=MAILBOX).kind is InboundKind.OTHER


def test_a_reply_with_quoted_text_is_a_reply_from_its_sender_to_our_message() -> None:
    verdict = classify(_mail(REPLY), mailbox=MAILBOX)
    assert verdict.kind is InboundKind.REPLY
    assert verdict.address == "jane@acme.example"
    assert verdict.workflow_ids == (WORKFLOW,)
    # Auto-Submitted: no is a person's mail.
    person = REPLY.replace("Content-Type:", "Auto-Submitted: no\nContent-Type:")
    assert classify(_mail(person), mailbox=MAILBOX).kind is InboundKind.REPLY


def test_an_unsubscribe_mail_carries_its_token() -> None:
    verdict = classify(_mail(UNSUBSCRIBE), mailbox=MAILBOX)
    assert verdict.kind is InboundKind.UNSUBSCRIBE
    assert verdict.token == "gAAAAABnZ3x1-token_value.AbC="
    assert verdict.address == "jane@acme.example"
    other = UNSUBSCRIBE.replace(
        "Subject: unsubscribe gAAAAABnZ3x1-token_value.AbC=", "Subject: unsubscribe"
    )
    assert classify(_mail(other), mailbox=MAILBOX).kind is InboundKind.REPLY


def test_our_own_mail_and_servers_are_never_replies() -> None:
    assert classify(_mail(REPLY, labels=("SENT",)), mailbox=MAILBOX).kind is InboundKind.OTHER
    mine = REPLY.replace('"Jane Doe" <Jane@Acme.example>', MAILBOX)
    assert classify(_mail(mine), mailbox=MAILBOX).kind is InboundKind.OTHER
    read_receipt = GMAIL_DSN.replace(
        "report-type=delivery-status", "report-type=disposition-notification"
    )
    assert (
        classify(
            _mail(read_receipt.replace("X-Failed-Recipients: nobody@acme.example\n", "")),
            mailbox=MAILBOX,
        ).kind
        is InboundKind.OTHER
    )


def test_only_our_message_ids_name_workflows() -> None:
    assert workflows_referenced(("<CAJane@mail.gmail.com>", OURS, OURS.upper())) == (WORKFLOW,)
