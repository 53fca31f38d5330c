"""The Slack and PagerDuty notifiers over HTTP to the local stand-in: what each vendor gets,
and each documented refusal (Slack's `ok: false` with HTTP 200, a 429; PagerDuty's 400,
429, 5xx; nobody listening) turned into NotificationFailed with the reason and no secret."""

from __future__ import annotations

import pytest

from sales_agent_pipeline.connectors.alerting import (
    PagerDutyNotifier,
    SlackNotifier,
    notifiers_from,
)
from sales_agent_pipeline.domain.alerts import Alert, NotificationFailed
from sales_agent_pipeline.settings import get_settings
from tests.conftest import free_port
from tests.integration.alerts.receiver import (
    PAGERDUTY_PATH,
    ROUTING_KEY,
    SLACK_PATH,
    SLACK_TOKEN,
    Receiver,
)

ALERT = Alert(
    key="breaker:crm:1000",
    source="breaker",
    severity="error",
    summary="crm circuit breaker open for portal 1000 <since 10:00> & counting",
    link="https://dagster.example.test/locations/sales_agent_pipeline/sensors/received_leads_sensor",
    details={"portal_id": 1000, "vendor": "crm"},
    component="crm",
)


def slack(receiver: Receiver, token: str = SLACK_TOKEN) -> SlackNotifier:
    return SlackNotifier(token, "#alerts-test", base_url=f"{receiver.url}/api")


def pagerduty(receiver: Receiver, routing_key: str = ROUTING_KEY) -> PagerDutyNotifier:
    return PagerDutyNotifier(
        routing_key, events_url=f"{receiver.url}{PAGERDUTY_PATH}", source="sales-agent-test"
    )


def test_slack_posts_the_alert_and_threads_its_resolution(receiver: Receiver) -> None:
    notifier = slack(receiver)
    ts = notifier.trigger(ALERT)
    notifier.resolve(ALERT, ts)

    first, second = receiver.slack()
    assert first.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert first.body["channel"] == "#alerts-test"
    assert ts == first.answer["ts"]
    # Slack's control characters are escaped; the link is a Slack link.
    assert "&lt;since 10:00&gt; &amp; counting" in first.body["text"]
    assert f"<{ALERT.link}|Open in Dagster>" in first.body["text"]
    assert "`breaker:crm:1000`" in first.body["text"]
    assert second.body["thread_ts"] == ts
    assert second.body["reply_broadcast"] is True
    assert "RESOLVED" in second.body["text"]


def test_slack_refusals_are_failed_deliveries_with_slacks_reason(receiver: Receiver) -> None:
    with pytest.raises(NotificationFailed) as refused:
        slack(receiver, token="xoxb-not-the-one").trigger(ALERT)
    assert refused.value.reason == "HTTP 200 invalid_auth"
    assert "xoxb" not in str(refused.value)

    receiver.fail(SLACK_PATH, 429)
    with pytest.raises(NotificationFailed) as limited:
        slack(receiver).trigger(ALERT)
    assert limited.value.reason == "HTTP 429 ratelimited (retry after 1 s)"

    receiver.fail(SLACK_PATH, 500)
    with pytest.raises(NotificationFailed, match="HTTP 500"):
        slack(receiver).trigger(ALERT)

    nobody = SlackNotifier(SLACK_TOKEN, "#x", base_url=f"http://127.0.0.1:{free_port()}/api/")
    with pytest.raises(NotificationFailed) as unreachable:
        nobody.trigger(ALERT)
    assert SLACK_TOKEN not in str(unreachable.value)


def test_pagerduty_gets_a_trigger_and_a_resolve_under_the_alerts_key(receiver: Receiver) -> None:
    notifier = pagerduty(receiver)
    assert notifier.trigger(ALERT) == ALERT.key
    notifier.resolve(ALERT)

    trigger, resolve = receiver.pagerduty()
    assert trigger == {
        "routing_key": ROUTING_KEY,
        "dedup_key": "breaker:crm:1000",
        "event_action": "trigger",
        "payload": {
            "summary": ALERT.summary,
            "source": "sales-agent-test",
            "severity": "error",
            "class": "breaker",
            "component": "crm",
            "custom_details": {"key": "breaker:crm:1000", "portal_id": 1000, "vendor": "crm"},
        },
        "client": "Sales Agent Pipeline (Dagster)",
        "client_url": ALERT.link,
        "links": [{"href": ALERT.link, "text": "Open in Dagster"}],
    }
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "dedup_key": "breaker:crm:1000",
        "event_action": "resolve",
    }


def test_pagerduty_refusals_say_whether_sending_again_can_help(receiver: Receiver) -> None:
    wrong = "W" * 32
    with pytest.raises(NotificationFailed) as invalid:
        pagerduty(receiver, routing_key=wrong).trigger(ALERT)
    assert not invalid.value.retry
    assert invalid.value.reason.startswith("HTTP 400")
    assert "invalid" in invalid.value.reason
    assert wrong not in str(invalid.value)

    for status in (429, 500, 503):
        receiver.fail(PAGERDUTY_PATH, status)
        with pytest.raises(NotificationFailed) as refused:
            pagerduty(receiver).trigger(ALERT)
        assert refused.value.retry
        assert refused.value.reason == f"HTTP {status}"

    nobody = PagerDutyNotifier(
        ROUTING_KEY, events_url=f"http://127.0.0.1:{free_port()}/v2/enqueue", source="s"
    )
    with pytest.raises(NotificationFailed) as unreachable:
        nobody.trigger(ALERT)
    assert unreachable.value.retry
    assert ROUTING_KEY not in str(unreachable.value)
    assert receiver.pagerduty() == []


def test_the_settings_choose_the_notifiers(
    configured: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [n.name for n in notifiers_from(get_settings())] == ["slack", "pagerduty"]
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    get_settings.cache_clear()
    assert [n.name for n in notifiers_from(get_settings())] == ["pagerduty"]
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY")
    get_settings.cache_clear()
    assert notifiers_from(get_settings()) == []
