"""The notifiers: Slack through slack_sdk's WebClient (the client dagster-slack's
SlackResource returns), PagerDuty through its Events API v2.

Each delivery either lands or raises NotificationFailed with the vendor's reason; the
caller keeps the alert's state and sends again on its next tick. Neither ever logs a token
or a routing key.
"""

from __future__ import annotations

from typing import Any

import httpx
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import WebClient

from sales_agent_pipeline.domain.alerts import Alert, NotificationFailed
from sales_agent_pipeline.settings import Settings

TIMEOUT_SECONDS = 5.0
_ICONS = {"critical": ":rotating_light:", "error": ":red_circle:", "warning": ":warning:"}
# Where PagerDuty's trigger says who sent it (its `client`), and Slack's fallback link text.
CLIENT = "Sales Agent Pipeline (Dagster)"
# A vendor's error answer can be a whole HTML page: the start says what happened.
_REASON_CHARS = 300


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as control characters (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackNotifier:
    """Posts to one channel with chat.postMessage; the resolution is a reply in the
    trigger's thread, also shown in the channel."""

    name = "slack"

    def __init__(
        self,
        token: str,
        channel: str,
        *,
        base_url: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._channel = channel
        kwargs: dict[str, Any] = {"token": token, "timeout": int(max(1, timeout))}
        if base_url:
            # The client joins method names onto it: it must end with a slash.
            kwargs["base_url"] = base_url if base_url.endswith("/") else f"{base_url}/"
        self._client = WebClient(**kwargs)

    def trigger(self, alert: Alert) -> str | None:
        """Post the alert; its message's ts, the thread its resolution goes to."""
        icon = _ICONS.get(alert.severity, ":information_source:")
        lines = [f"{icon} *{alert.severity.upper()}* {_slack_escape(alert.summary)}"]
        if alert.link:
            lines.append(f"<{alert.link}|Open in Dagster>")
        lines.append(f"`{_slack_escape(alert.key)}`")
        answer = self._post(text="\n".join(lines))
        ts = answer.get("ts")
        return str(ts) if ts else None

    def resolve(self, alert: Alert, reference: str | None = None) -> None:
        """Reply in the trigger's thread (and in the channel) that the condition cleared."""
        text = f":white_check_mark: *RESOLVED* {_slack_escape(alert.summary)}\n`{alert.key}`"
        extra: dict[str, Any] = {}
        if reference:
            extra = {"thread_ts": reference, "reply_broadcast": True}
        self._post(text=text, **extra)

    def _post(self, **arguments: Any) -> dict[str, Any]:
        try:
            response = self._client.chat_postMessage(
                channel=self._channel, unfurl_links=False, **arguments
            )
        except SlackApiError as exc:
            # Slack answers an error with HTTP 200 and `ok: false` (the SDK raises on it), a
            # rate limit with 429 and Retry-After; the error code says which.
            answer = exc.response
            status = answer.status_code
            code = answer.get("error") if isinstance(answer.data, dict) else None
            wait = answer.headers.get("Retry-After") or answer.headers.get("retry-after")
            reason = f"HTTP {status}" + (f" {code}" if code else "")
            if wait:
                reason += f" (retry after {wait} s)"
            raise NotificationFailed(self.name, reason) from None
        except (SlackClientError, OSError, ValueError) as exc:
            # Unreachable, timed out, or an answer that is not Slack's JSON.
            reason = f"{type(exc).__name__}: {str(exc)[:_REASON_CHARS]}"
            raise NotificationFailed(self.name, reason) from None
        return dict(response.data) if isinstance(response.data, dict) else {}


class PagerDutyNotifier:
    """Events API v2: a trigger and a resolve per condition, correlated by dedup_key (the
    alert's key), so PagerDuty keeps one alert per condition however often it is sent.

    Not dagster-pagerduty's PagerDutyService: it posts through pypd, whose EventV2 takes its
    URL from a class attribute (one per process, so no test receiver or proxy per resource),
    has no `links` or `client_url`, sets no timeout and logs the whole event, routing key
    included, at DEBUG. The Events API is one POST of JSON: httpx does it here.
    """

    name = "pagerduty"

    def __init__(
        self,
        routing_key: str,
        *,
        events_url: str,
        source: str,
        client: httpx.Client | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._routing_key = routing_key
        self._url = events_url
        self._source = source
        self._client = client
        self._timeout = timeout

    def trigger(self, alert: Alert) -> str | None:
        """Open (or add to) PagerDuty's alert for this key; PagerDuty's dedup_key."""
        payload: dict[str, Any] = {
            "summary": alert.summary[:1024],
            "source": self._source,
            "severity": alert.severity,
            "class": alert.source,
            "custom_details": {"key": alert.key, **alert.details},
        }
        if alert.component:
            payload["component"] = alert.component
        event: dict[str, Any] = {
            "event_action": "trigger",
            "payload": payload,
            "client": CLIENT,
        }
        if alert.link:
            event["links"] = [{"href": alert.link, "text": "Open in Dagster"}]
            event["client_url"] = alert.link
        return self._send(alert.key, event)

    def resolve(self, alert: Alert, reference: str | None = None) -> None:
        """Resolve PagerDuty's alert for this key (a resolve for a key PagerDuty does not
        have open is dropped by PagerDuty, harmlessly)."""
        self._send(alert.key, {"event_action": "resolve"})

    def _send(self, dedup_key: str, event: dict[str, Any]) -> str | None:
        body = {"routing_key": self._routing_key, "dedup_key": dedup_key, **event}
        try:
            if self._client is not None:
                response = self._client.post(self._url, json=body)
            else:
                # A client per event: alerts are a few an hour, and nothing is left open.
                with httpx.Client(timeout=self._timeout) as client:
                    response = client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            # Never the request itself in the reason: its body carries the routing key.
            raise NotificationFailed(self.name, type(exc).__name__) from None
        if response.status_code == 202:
            try:
                answer = response.json()
            except ValueError:
                return dedup_key
            return str(answer.get("dedup_key") or dedup_key)
        detail = response.text[:_REASON_CHARS].replace(self._routing_key, "<routing key>")
        if response.status_code == 400:
            # The event itself is wrong: PagerDuty will not take it as it is.
            raise NotificationFailed(self.name, f"HTTP 400 {detail}", retry=False)
        wait = response.headers.get("Retry-After")
        reason = f"HTTP {response.status_code}" + (f" (retry after {wait} s)" if wait else "")
        raise NotificationFailed(self.name, reason)


def notifiers_from(settings: Settings) -> list[SlackNotifier | PagerDutyNotifier]:
    """The notifiers the settings configure: Slack with SLACK_BOT_TOKEN, PagerDuty with
    PAGERDUTY_ROUTING_KEY; neither set, none (the Dagster UI still shows everything)."""
    found: list[SlackNotifier | PagerDutyNotifier] = []
    if settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value():
        found.append(
            SlackNotifier(
                settings.slack_bot_token.get_secret_value(),
                settings.slack_channel,
                base_url=settings.slack_api_base_url,
            )
        )
    routing_key = settings.pagerduty_routing_key
    if routing_key is not None and routing_key.get_secret_value():
        found.append(
            PagerDutyNotifier(
                routing_key.get_secret_value(),
                events_url=settings.pagerduty_events_url,
                source=f"sales-agent-{settings.environment}",
            )
        )
    return found
