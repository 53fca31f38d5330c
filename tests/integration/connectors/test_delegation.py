"""Owner routing's delegation check against the sandbox's token endpoint: a service account
delegated for a domain may act for its users, not another domain's; the answer (a grant or
a refusal) is remembered for CONNECTOR_CACHE_TTL_SECONDS; an authorized-user token or no
stored key never acts for another user; the mailbox's connector acts as that user."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from sales_agent_pipeline.connectors.factory import (
    build_mail,
    can_act_for,
    forget_delegations,
    mailbox_credentials,
)
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.models import OutgoingMail
from sales_agent_pipeline.settings import Settings
from tests.sandbox.conftest import Admin


def token_requests(admin: Admin, since: int) -> int:
    return sum(1 for r in admin.requests(after=since) if r["path"] == "/token")


def test_a_delegated_domains_users_are_reachable_and_refusals_are_remembered(
    admin: Admin, make_settings: Callable[..., Settings]
) -> None:
    forget_delegations()
    admin.config(google_require_auth=True)
    domain = f"routed-{uuid.uuid4().hex[:6]}.example"
    key = admin.service_account([domain], name=f"sa-{uuid.uuid4().hex[:6]}")
    credentials = TenantCredentials(
        portal_id=1,
        google_credentials=SecretStr(json.dumps(key)),
        google_subject=f"sales@{domain}",
    )
    settings = make_settings(connector_cache_ttl_seconds=300)
    since = admin.last_request_seq()

    assert can_act_for(settings, credentials, f"sales@{domain}")  # its own: no question
    assert can_act_for(settings, credentials, f"Ana@{domain}")
    assert not can_act_for(settings, credentials, "bob@elsewhere.example")
    assert token_requests(admin, since) == 2
    # Asked again: remembered, no token request.
    assert can_act_for(settings, credentials, f"ana@{domain}")
    assert not can_act_for(settings, credentials, "bob@elsewhere.example")
    assert token_requests(admin, since) == 2

    # The owner's connector writes in the owner's mailbox.
    mail = build_mail(settings, mailbox_credentials(credentials, f"ana@{domain}"))
    mail.create_draft(OutgoingMail(to=("jordan@acme.example",), subject="Hi", text_body="Hi"))
    users = {d["user"] for d in admin.drafts() if "jordan@acme.example" in d["to"]}
    assert users == {f"ana@{domain}"}


def test_no_key_or_a_user_token_never_acts_for_another_user(
    admin: Admin, make_settings: Callable[..., Settings]
) -> None:
    forget_delegations()
    settings = make_settings()
    anonymous = TenantCredentials(portal_id=1, google_subject="sales@ourco.example")
    assert not can_act_for(settings, anonymous, "ana@ourco.example")
    user: dict[str, Any] = admin.authorized_user("sales@ourco.example")
    as_user = anonymous.model_copy(update={"google_credentials": SecretStr(json.dumps(user))})
    assert not can_act_for(settings, as_user, "ana@ourco.example")
    assert mailbox_credentials(as_user, None) is as_user
    assert mailbox_credentials(as_user, "SALES@ourco.example") is as_user
