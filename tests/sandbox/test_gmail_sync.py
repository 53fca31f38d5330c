"""Gmail sync in the sandbox through google-api-python-client over HTTP: users.getProfile,
history.list (filters, paging, the 404 of an expired start id), watch and stop with
Pub/Sub push to a real HTTP endpoint, and mail arriving (deliveries, replies, bounces)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from googleapiclient.errors import HttpError

from tests.sandbox.clients import GMAIL, delegated, service

USER = "owner@sandbox.example.com"
PAT = "Pat Lee <pat@prospect.example>"
TOPIC = "projects/sandbox-project/topics/gmail"


@pytest.fixture
def gmail(sandbox_url: str, admin: Any) -> Any:
    return service(sandbox_url, "gmail", AnonymousCredentials())


class Receiver:
    """A push endpoint: records each JSON body POSTed to it, answers `status`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 204
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.bodies.append(
                    {"path": self.path, "body": json.loads(self.rfile.read(length))}
                )
                self.send_response(received.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def _raw(msg: EmailMessage) -> str:
    return base64.urlsafe_b64encode(msg.as_bytes()).decode()


def _outgoing(subject: str, to: str = "pat@prospect.example", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["To"] = to
    msg["From"] = USER
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(f"About {subject}")
    return msg


def _history(gmail: Any, start: str, **options: Any) -> dict[str, Any]:
    found: dict[str, Any] = (
        gmail.users().history().list(userId="me", startHistoryId=start, **options).execute()
    )
    return found


def _headers(message: dict[str, Any]) -> dict[str, str]:
    return {h["name"]: h["value"] for h in message["payload"]["headers"]}


def test_history_lists_each_change_after_the_start_id(gmail, admin):
    start = gmail.users().getProfile(userId="me").execute()
    assert start["emailAddress"] == USER
    assert start["messagesTotal"] == 0

    inbound = admin.deliver(to=USER, **{"from": PAT}, subject="Pricing", text="What is it?")
    draft = (
        gmail.users()
        .drafts()
        .create(userId="me", body={"message": {"raw": _raw(_outgoing("Draft"))}})
        .execute()
    )
    gmail.users().threads().modify(
        userId="me", id=inbound["threadId"], body={"removeLabelIds": ["UNREAD"]}
    ).execute()
    gmail.users().drafts().delete(userId="me", id=draft["id"]).execute()

    listed = _history(gmail, start["historyId"])
    records = listed["history"]
    assert [list(r)[2:] for r in records] == [
        ["messagesAdded"],
        ["messagesAdded"],
        ["labelsRemoved"],
        ["messagesDeleted"],
    ]
    ids = [int(r["id"]) for r in records]
    assert ids == sorted(ids)
    assert ids[0] > int(start["historyId"])
    added = records[0]["messagesAdded"][0]["message"]
    assert added == {
        "id": inbound["id"],
        "threadId": inbound["threadId"],
        "labelIds": ["INBOX", "UNREAD"],
    }
    assert records[0]["messages"] == [{"id": inbound["id"], "threadId": inbound["threadId"]}]
    assert records[2]["labelsRemoved"][0]["labelIds"] == ["UNREAD"]
    assert records[3]["messagesDeleted"][0]["message"]["id"] == draft["message"]["id"]
    profile = gmail.users().getProfile(userId="me").execute()
    assert listed["historyId"] == profile["historyId"] == records[-1]["id"]
    assert profile["messagesTotal"] == 1
    assert profile["threadsTotal"] == 1

    only_added = _history(gmail, start["historyId"], historyTypes=["messageAdded"])
    assert [r["id"] for r in only_added["history"]] == [r["id"] for r in records[:2]]
    inbox = _history(gmail, start["historyId"], labelId="INBOX", historyTypes="messageAdded")
    assert [r["messagesAdded"][0]["message"]["id"] for r in inbox["history"]] == [inbound["id"]]

    first = _history(gmail, start["historyId"], maxResults=3)
    assert len(first["history"]) == 3
    assert first["nextPageToken"]
    rest = _history(gmail, start["historyId"], maxResults=3, pageToken=first["nextPageToken"])
    assert [r["id"] for r in rest["history"]] == [records[3]["id"]]
    assert "nextPageToken" not in rest

    # Nothing after the current id: no "history" field at all, the same historyId.
    assert _history(gmail, profile["historyId"]) == {"historyId": profile["historyId"]}


def test_history_refuses_a_bad_start_and_answers_404_once_expired(gmail, admin, sandbox_url):
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    for bad in (None, "abc"):
        with pytest.raises(HttpError) as caught:
            gmail.users().history().list(userId="me", startHistoryId=bad).execute()
        assert caught.value.resp.status == 400
    # An unknown history type (the SDK refuses it before sending): Google's 400.
    wrong = httpx.get(
        f"{sandbox_url}/gmail/v1/users/me/history",
        params={"startHistoryId": start, "historyTypes": "messageMoved"},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["errors"][0]["location"] == "historyTypes"

    admin.deliver(to=USER, **{"from": PAT}, subject="Hi", text="Hello")
    expired = admin.expire_history(USER)
    assert expired["expired"] == 1
    with pytest.raises(HttpError) as caught:
        _history(gmail, start)
    assert caught.value.resp.status == 404
    assert caught.value.error_details[0]["reason"] == "notFound"
    # The full resync the 404 calls for: messages.list with a query, then the new start.
    resync = gmail.users().messages().list(userId="me", q="in:inbox newer_than:7d").execute()
    assert len(resync["messages"]) == 1
    now = gmail.users().getProfile(userId="me").execute()["historyId"]
    assert now == expired["historyId"]
    assert "history" not in _history(gmail, now)

    # Retention: records older than the configured seconds are forgotten as well.
    admin.config(gmail_history_retention_seconds=0.2)
    admin.deliver(to=USER, **{"from": PAT}, subject="Later", text="Again")
    assert len(_history(gmail, now)["history"]) == 1
    time.sleep(0.3)
    with pytest.raises(HttpError) as caught:
        _history(gmail, now)
    assert caught.value.resp.status == 404


def test_watch_pushes_inbox_changes_to_the_subscription_until_stopped(gmail, admin, receiver):
    admin.config(pubsub_push_attempts=2)
    admin.push_subscription(TOPIC, f"{receiver.url}/push?token=s3cret", name="gmail-push")
    with pytest.raises(HttpError) as caught:
        gmail.users().watch(userId="me", body={"labelIds": ["INBOX"]}).execute()
    assert caught.value.resp.status == 400
    with pytest.raises(HttpError) as caught:
        gmail.users().watch(userId="me", body={"topicName": "gmail"}).execute()
    assert caught.value.resp.status == 400

    watch_body = {"topicName": TOPIC, "labelIds": ["INBOX"], "labelFilterBehavior": "include"}
    watched = gmail.users().watch(userId="me", body=watch_body).execute()
    week_ms = 7 * 86400 * 1000
    assert abs(int(watched["expiration"]) - (time.time() * 1000 + week_ms)) < 60_000
    draft = {"message": {"raw": _raw(_outgoing("Not in the inbox"))}}
    gmail.users().drafts().create(userId="me", body=draft).execute()
    assert admin.push_deliveries() == []

    inbound = admin.deliver(to=USER, **{"from": PAT}, subject="Question", text="Hi?")
    deliveries = admin.push_deliveries()
    assert [d["delivered"] for d in deliveries] == [True]
    assert deliveries[0]["endpoint"] == f"{receiver.url}/push"
    (pushed,) = receiver.bodies
    assert pushed["path"] == "/push?token=s3cret"
    body = pushed["body"]
    assert body["subscription"] == "projects/sandbox-project/subscriptions/gmail-push"
    message = body["message"]
    assert message["messageId"] == message["message_id"]
    assert message["publishTime"]
    data = json.loads(base64.b64decode(message["data"]))
    assert data == {"emailAddress": USER, "historyId": inbound["historyId"]}
    changes = _history(gmail, watched["historyId"], historyTypes=["messageAdded"])
    assert changes["history"][-1]["messagesAdded"][0]["message"]["id"] == inbound["id"]

    # An endpoint that fails is retried, then given up on; Gmail's own call is unaffected.
    receiver.status = 500
    admin.deliver(to=USER, **{"from": PAT}, subject="Second", text="Hi again")
    failed = admin.push_deliveries()[-1]
    assert failed["delivered"] is False
    assert failed["status"] == 500
    assert failed["attempts"] == 2

    gmail.users().stop(userId="me").execute()
    admin.deliver(to=USER, **{"from": PAT}, subject="Third", text="Still there?")
    assert len(admin.push_deliveries()) == 2
    assert admin.state("gmail")["gmail"][USER]["watch"] is None


def test_a_reply_arrives_in_the_thread_of_the_sent_message(gmail, admin):
    unsubscribe = "<https://app.example/u/tok>, <mailto:unsubscribe@app.example?subject=tok>"
    outgoing = _outgoing(
        "Warehouse pilot",
        List_Unsubscribe=unsubscribe,
        List_Unsubscribe_Post="List-Unsubscribe=One-Click",
    )
    sent = gmail.users().messages().send(userId="me", body={"raw": _raw(outgoing)}).execute()

    raw = gmail.users().messages().get(userId="me", id=sent["id"], format="raw").execute()
    kept = message_from_bytes(base64.urlsafe_b64decode(raw["raw"]), policy=policy.default)
    # Folded as the client sent it: Python's parser keeps the space after the fold.
    assert kept["List-Unsubscribe"].strip() == unsubscribe
    assert kept["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    meta = (
        gmail.users()
        .messages()
        .get(userId="me", id=sent["id"], format="metadata", metadataHeaders=["List-Unsubscribe"])
        .execute()
    )
    assert {k: v.strip() for k, v in _headers(meta).items()} == {"List-Unsubscribe": unsubscribe}
    listed = admin.sent()
    posted = {h["name"]: h["value"] for h in listed[0]["headers"]}
    assert posted["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    reply = admin.reply(USER, sent["id"], text="Yes, let's talk Tuesday.")
    assert reply["threadId"] == sent["threadId"]
    assert reply["labelIds"] == ["INBOX", "UNREAD"]
    full = gmail.users().messages().get(userId="me", id=reply["id"]).execute()
    headers = _headers(full)
    assert headers["From"] == "pat@prospect.example"
    assert headers["To"] == USER
    assert headers["Subject"] == "Re: Warehouse pilot"
    assert headers["In-Reply-To"] == kept["Message-ID"]
    assert headers["References"] == kept["Message-ID"]
    assert full["snippet"].startswith("Yes, let's talk Tuesday.")

    found = gmail.users().messages().list(userId="me", q="in:inbox newer_than:7d").execute()
    assert [m["id"] for m in found["messages"]] == [reply["id"]]
    inbox = gmail.users().messages().list(userId="me", labelIds=["INBOX", "UNREAD"]).execute()
    assert [m["id"] for m in inbox["messages"]] == [reply["id"]]

    # A delivery threads by In-Reply-To and subject, as Gmail does; another subject does not.
    same = admin.deliver(
        to=USER,
        **{"from": PAT},
        subject="RE: Warehouse pilot",
        text="One more thing",
        inReplyTo=kept["Message-ID"],
    )
    assert same["threadId"] == sent["threadId"]
    other = admin.deliver(
        to=USER, **{"from": PAT}, subject="New topic", text="Hi", inReplyTo=kept["Message-ID"]
    )
    assert other["threadId"] != sent["threadId"]
    forced = admin.deliver(
        to=USER, **{"from": PAT}, subject="Anything", text="Hi", threadId=sent["threadId"]
    )
    assert forced["threadId"] == sent["threadId"]


def _dsn_parts(gmail: Any, message_id: str) -> dict[str, Any]:
    raw = gmail.users().messages().get(userId="me", id=message_id, format="raw").execute()
    return {"msg": message_from_bytes(base64.urlsafe_b64decode(raw["raw"]), policy=policy.default)}


def test_bounces_on_request_and_for_undeliverable_addresses(gmail, admin):
    admin.seed(undeliverable=["nobody@bounce.example", "@dead.example"])
    message = _outgoing("Hello", to="ok@fine.example")
    sent = gmail.users().messages().send(userId="me", body={"raw": _raw(message)}).execute()
    dsn = admin.bounce(USER, sent["id"])
    assert dsn["threadId"] == sent["threadId"]
    assert dsn["failedRecipients"] == ["ok@fine.example"]
    msg = _dsn_parts(gmail, dsn["id"])["msg"]
    assert msg["From"] == "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"
    assert msg["X-Failed-Recipients"] == "ok@fine.example"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = {p.get_content_type(): p for p in msg.iter_parts()}
    assert set(parts) == {"text/plain", "message/delivery-status", "text/rfc822-headers"}
    status_blocks = parts["message/delivery-status"].get_payload()
    recipient = status_blocks[1]
    assert recipient["Final-Recipient"] == "rfc822; ok@fine.example"
    assert recipient["Action"] == "failed"
    assert recipient["Status"] == "5.1.1"
    assert "550" in recipient["Diagnostic-Code"]
    assert "Subject: Hello" in parts["text/rfc822-headers"].get_content()
    full = gmail.users().messages().get(userId="me", id=dsn["id"]).execute()
    status_part = next(
        p for p in full["payload"]["parts"] if p["mimeType"] == "message/delivery-status"
    )
    assert b"Status: 5.1.1" in base64.urlsafe_b64decode(status_part["body"]["data"])

    # Sent to an undeliverable address or domain: the DSN is there at once, in the thread.
    before = len(admin.state("gmail")["gmail"][USER]["messages"])
    to = "Nobody <nobody@bounce.example>, ann@dead.example, fine@fine.example"
    draft = (
        gmail.users()
        .drafts()
        .create(userId="me", body={"message": {"raw": _raw(_outgoing("Offer", to=to))}})
        .execute()
    )
    sent = gmail.users().drafts().send(userId="me", body={"id": draft["id"]}).execute()
    bounced = gmail.users().messages().list(userId="me", q="from:mailer-daemon").execute()
    assert len(bounced["messages"]) == 2
    thread = gmail.users().threads().get(userId="me", id=sent["threadId"]).execute()
    assert len(thread["messages"]) == 2
    auto = _dsn_parts(gmail, thread["messages"][1]["id"])["msg"]
    assert auto["X-Failed-Recipients"] == "nobody@bounce.example, ann@dead.example"
    assert len(admin.state("gmail")["gmail"][USER]["messages"]) == before + 2

    for body, status in (
        ({"mailbox": USER, "messageId": "missing"}, 404),
        ({"mailbox": USER, "messageId": sent["id"], "status": "2.0.0"}, 400),
        ({"mailbox": USER, "messageId": sent["id"], "recipients": ["not an address"]}, 400),
        ({"messageId": sent["id"]}, 400),
    ):
        assert admin.http.post("/gmail/bounce", json=body).status_code == status


def test_admin_mail_endpoints_refuse_bad_input(admin):
    for path, body in (
        ("/gmail/deliver", {"from": PAT, "subject": "x"}),
        ("/gmail/deliver", {"to": USER, "from": "not an address"}),
        ("/gmail/deliver", {"to": USER, "raw": "%%%"}),
        ("/gmail/deliver", {"to": USER, "from": PAT, "date": "yesterday"}),
        ("/gmail/deliver", {"to": USER, "from": PAT, "labelIds": ["NOPE"]}),
        ("/gmail/deliver", {"to": USER, "from": PAT, "headers": {"X-A": "a\nb"}}),
        ("/gmail/reply", {"mailbox": USER}),
        ("/pubsub/subscriptions", {"topic": "gmail", "pushEndpoint": "http://x.example/"}),
        ("/pubsub/subscriptions", {"topic": TOPIC, "pushEndpoint": "ftp://x.example/"}),
        ("/gmail/undeliverable", {"addresses": ["not-an-address"]}),
    ):
        response = admin.http.post(path, json=body)
        assert response.status_code == 400, (path, body, response.text)
        assert response.json()["error"]
    assert (
        admin.http.post(
            "/gmail/deliver", json={"to": USER, "from": PAT, "threadId": "t"}
        ).status_code
        == 404
    )
    assert admin.http.post("/gmail/not-an-address/expire-history").status_code == 400
    assert admin.state("gmail")["gmail"].get(USER, {}).get("messages", []) == []


def test_a_delegated_owner_reads_only_their_own_history(sandbox_url, admin):
    owner, other = "owner@a.example", "someone@b.example"
    mine = admin.deliver(to=owner, **{"from": PAT}, subject="For the owner", text="Hi")
    admin.deliver(to=other, **{"from": PAT}, subject="For someone else", text="Hi")
    key = admin.service_account(["a.example"])
    gmail = service(sandbox_url, "gmail", delegated(key, owner, GMAIL))

    profile = gmail.users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == owner
    assert profile["messagesTotal"] == 1
    assert gmail.users().getProfile(userId=owner).execute() == profile
    before = str(int(mine["historyId"]) - 1)
    history = gmail.users().history().list(userId=owner, startHistoryId=before).execute()
    assert [r["messages"][0]["id"] for r in history["history"]] == [mine["id"]]
    for call in (
        gmail.users().getProfile(userId=other),
        gmail.users().history().list(userId=other, startHistoryId=profile["historyId"]),
        gmail.users().watch(userId=other, body={"topicName": TOPIC}),
    ):
        with pytest.raises(HttpError) as caught:
            call.execute()
        assert caught.value.resp.status == 403


def test_messages_modify_records_the_labels_it_changed(gmail, admin):
    inbound = admin.deliver(to=USER, **{"from": PAT}, subject="Read me", text="Hi")
    modified = (
        gmail.users()
        .messages()
        .modify(
            userId="me",
            id=inbound["id"],
            body={"addLabelIds": ["STARRED"], "removeLabelIds": ["UNREAD"]},
        )
        .execute()
    )
    assert modified["labelIds"] == ["INBOX", "STARRED"]
    (record,) = _history(gmail, inbound["historyId"])["history"]
    assert record["labelsAdded"][0]["labelIds"] == ["STARRED"]
    assert record["labelsRemoved"][0]["labelIds"] == ["UNREAD"]
    assert record["labelsAdded"][0]["message"]["labelIds"] == ["INBOX", "STARRED"]
    with pytest.raises(HttpError) as caught:
        gmail.users().messages().modify(userId="me", id="missing", body={}).execute()
    assert caught.value.resp.status == 404
