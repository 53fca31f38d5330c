"""HubSpot and Google wire-format emulator, checking credentials the way the vendors do.

HubSpot: a bearer token is bound to one portal (`POST /_sandbox/hubspot/tokens`; the demo's
"sandbox-token" always maps to the default portal); an unknown token is 401
INVALID_AUTHENTICATION, an expired OAuth access token 401 EXPIRED_AUTHENTICATION, and
another portal's objects and forms are 404. Public apps (`POST /_sandbox/hubspot/apps`)
install through `/oauth/authorize` and `/oauth/v1/token`; uninstalling revokes the grant.

Google: `POST /_sandbox/google/service-accounts` issues a key file (token_uri at
`<sandbox>/token`) delegated for some domains; `POST /_sandbox/google/authorized-users` an
authorized-user file for one user. Access tokens act as one subject: Gmail serves only the
subject's mailbox (403 "Delegation denied" otherwise), free/busy only its domain's
calendars, Drive only files it owns or that are shared with it. Without a bearer token a
request acts as the default user, unless `google_require_auth` is on.

Gmail sync: every change to a mailbox is a history record (users.getProfile, users.history
.list; a start id older than the retained history, `gmail_history_retention_seconds` or
`POST /_sandbox/gmail/<user>/expire-history`, is 404). users.watch publishes each change to
the push subscriptions of its topic (`POST /_sandbox/pubsub/subscriptions`), off the request
thread. Mail arrives through `POST /_sandbox/gmail/deliver`, `/reply` and `/bounce` (a
delivery-status notification), or bounces at once when sent to a seeded "undeliverable"
address or domain (gmail_inbound.py). HubSpot's communication preferences v3 answer from the
seeded subscription types and statuses, and `hs_email_optout` (hubspot_subscriptions.py).

`GET /_sandbox/requests?after=SEQ` lists each vendor request with the identity it carried
(portal and token fingerprint, or Google subject) and what it touched.

Faults, for every vendor path alike (faults.py has the rule keys): an error (`status`), a
slow answer (`delayMs`), a timeout (`timeoutSeconds`: held, then 504, nothing written), a
failure after commit (`afterCommit`: the write is stored, the client gets a 500 or the
silence), a count or share of requests, and outage windows (`forSeconds`, from
`startAfterSeconds`). Rules come from `POST /_sandbox/faults` or SANDBOX_FAULTS (JSON).

Search-index lag (`PATCH /_sandbox/config`, or SANDBOX_SEARCH_LAG_SECONDS and
SANDBOX_GMAIL_SEARCH_LAG_SECONDS at start): records written in the last N seconds are
missing from HubSpot's CRM search (`search_lag_seconds`) and from Gmail's `q=` searches on
threads, messages and drafts (`gmail_search_lag_seconds`; unset, it follows the HubSpot
one), while gets by id and lists without `q` see them at once, as on the real services.
"""
