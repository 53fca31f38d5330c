"""HubSpot credentials in the sandbox: tokens bound to portals, account-info, forms, and the
whole OAuth install flow, driven through hubspot-api-client over HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import hubspot
import pytest
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import SimplePublicObjectInputForCreate
from hubspot.crm.owners import ApiException as OwnersApiException
from hubspot.marketing.forms import ApiException as FormsApiException
from hubspot.oauth import ApiException as OAuthApiException

PORTAL_A, PORTAL_B = 2001, 2002
REDIRECT = "https://app.ourco.example/oauth/callback"


def _client(url: str, token: str) -> hubspot.Client:
    return hubspot.Client.create(access_token=token, host=url, base_url=url)


def _contact(client: hubspot.Client, email: str) -> str:
    made = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": email})
    )
    return str(made.id)


def _error(exc: Exception) -> dict[str, Any]:
    import json

    return dict(json.loads(getattr(exc, "body", "") or "{}"))


def test_a_token_reads_only_its_own_portal(sandbox_url: str, admin: Any):
    a = _client(sandbox_url, admin.register_token(portal_id=PORTAL_A))
    b = _client(sandbox_url, admin.register_token(portal_id=PORTAL_B))
    mine = _contact(a, "jane@acme.example")

    assert a.crm.contacts.basic_api.get_by_id(mine).properties["email"] == "jane@acme.example"
    with pytest.raises(ContactsApiException) as other_portal:
        b.crm.contacts.basic_api.get_by_id(mine)
    assert other_portal.value.status == 404
    with pytest.raises(ContactsApiException) as unknown:
        _client(sandbox_url, "pat-na1-never-registered").crm.contacts.basic_api.get_by_id(mine)
    assert unknown.value.status == 401
    assert _error(unknown.value)["category"] == "INVALID_AUTHENTICATION"
    portals = admin.state("hubspot")["hubspot"]["portals"]
    assert [c["id"] for c in portals[str(PORTAL_A)]["objects"]["contacts"]] == [mine]
    assert portals[str(PORTAL_B)]["objects"].get("contacts", []) == []


def test_a_revoked_token_is_refused_and_the_demo_token_survives_reset(sandbox_url: str, admin: Any):
    token = admin.register_token(portal_id=PORTAL_A)
    assert admin.revoke_token(token) is True
    with pytest.raises(OwnersApiException) as caught:
        _client(sandbox_url, token).crm.owners.owners_api.get_page()
    assert caught.value.status == 401
    admin.reset()
    assert admin.revoke_token("sandbox-token") is False
    assert _client(sandbox_url, "sandbox-token").crm.owners.owners_api.get_page().results == []


def test_account_info_names_the_tokens_portal(sandbox_url: str, admin: Any):
    admin.seed(portalId=PORTAL_B, account={"timeZone": "Europe/Berlin", "companyCurrency": "EUR"})
    a = _client(sandbox_url, admin.register_token(portal_id=PORTAL_A))
    b = _client(sandbox_url, admin.register_token(portal_id=PORTAL_B))

    mine = a.api_request({"method": "GET", "path": "/account-info/v3/details"}).json()
    theirs = b.api_request({"method": "GET", "path": "/account-info/v3/details"}).json()

    assert mine["portalId"] == PORTAL_A
    assert mine["timeZone"] == "US/Eastern"
    assert mine["companyCurrency"] == "USD"
    assert {"uiDomain", "dataHostingLocation", "accountType", "utcOffset"} <= set(mine)
    assert theirs["portalId"] == PORTAL_B
    assert theirs["timeZone"] == "Europe/Berlin"
    assert theirs["companyCurrency"] == "EUR"
    assert theirs["utcOffset"] in ("+01:00", "+02:00")
    refused = _client(sandbox_url, "unknown").api_request(
        {"method": "GET", "path": "/account-info/v3/details"}
    )
    assert refused.status_code == 401


def test_forms_are_seen_only_through_their_portal(sandbox_url: str, admin: Any):
    admin.seed(portalId=PORTAL_A, forms=[{"id": "form-a", "name": "Contact A"}])
    admin.seed(
        portalId=PORTAL_B,
        formSubmissions=[{"formGuid": "form-b", "values": {"email": "x@y.example"}}],
    )
    a = _client(sandbox_url, admin.register_token(portal_id=PORTAL_A))
    b = _client(sandbox_url, admin.register_token(portal_id=PORTAL_B))

    form = a.marketing.forms.forms_api.get_by_id("form-a")
    assert (form.id, form.name, form.archived) == ("form-a", "Contact A", False)
    assert "email" in [f.name for group in form.field_groups for f in group.fields]
    # A form with submissions is a form of that portal too.
    assert b.marketing.forms.forms_api.get_by_id("form-b").id == "form-b"
    for client, form_id in ((b, "form-a"), (a, "form-b"), (a, "no-such-form")):
        with pytest.raises(FormsApiException) as caught:
            client.marketing.forms.forms_api.get_by_id(form_id)
        assert caught.value.status == 404
    assert [f.id for f in a.marketing.forms.forms_api.get_page().results] == ["form-a"]


def test_the_demo_form_is_readable_with_the_demo_token(sandbox_url: str, admin: Any):
    described = admin.reset(demo=True)["demo"]
    demo = _client(sandbox_url, "sandbox-token")
    form_id = described["forms"][0]["id"]
    assert demo.marketing.forms.forms_api.get_by_id(form_id).id == "demo-contact-form"


def _install(sandbox_url: str, app: dict[str, Any], state: str = "st-1") -> str:
    # The admin's browser: HubSpot answers the install URL with a redirect to our callback.
    answer = httpx.get(
        f"{sandbox_url}/oauth/authorize",
        params={
            "client_id": app["clientId"],
            "scope": "oauth crm.objects.contacts.read",
            "redirect_uri": REDIRECT,
            "state": state,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def _exchange(oauth: Any, app: dict[str, Any], code: str, **overrides: str) -> Any:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": app["clientId"],
        "client_secret": app["clientSecret"],
        **overrides,
    }
    return oauth.tokens_api.create(**form)


def test_oauth_install_refresh_expiry_and_uninstall(sandbox_url: str, admin: Any):
    app = admin.oauth_app(portal_id=PORTAL_A, redirectUris=[REDIRECT])
    other = _contact(_client(sandbox_url, admin.register_token(portal_id=PORTAL_B)), "b@b.example")
    oauth = hubspot.Client.create(host=sandbox_url).oauth

    code = _install(sandbox_url, app)
    tokens = _exchange(oauth, app, code)
    assert tokens.token_type == "bearer"
    assert tokens.expires_in == 1800
    info = oauth.access_tokens_api.get(tokens.access_token)
    assert (info.hub_id, info.app_id) == (PORTAL_A, app["appId"])
    assert info.scopes == ["oauth", "crm.objects.contacts.read"]
    assert 0 < info.expires_in <= 1800
    assert oauth.refresh_tokens_api.get(tokens.refresh_token).client_id == app["clientId"]

    installed = _client(sandbox_url, tokens.access_token)
    mine = _contact(installed, "a@a.example")
    assert installed.crm.contacts.basic_api.get_by_id(mine).id == mine
    with pytest.raises(ContactsApiException) as foreign:
        installed.crm.contacts.basic_api.get_by_id(other)
    assert foreign.value.status == 404

    # A code is single use.
    with pytest.raises(OAuthApiException) as reused:
        _exchange(oauth, app, code)
    assert (reused.value.status, _error(reused.value)["status"]) == (400, "BAD_AUTH_CODE")

    assert admin.expire_oauth_tokens(app["clientId"]) == 1
    with pytest.raises(ContactsApiException) as expired:
        installed.crm.contacts.basic_api.get_by_id(mine)
    assert expired.value.status == 401
    assert _error(expired.value)["category"] == "EXPIRED_AUTHENTICATION"
    refreshed = oauth.tokens_api.create(
        grant_type="refresh_token",
        refresh_token=tokens.refresh_token,
        client_id=app["clientId"],
        client_secret=app["clientSecret"],
    )
    assert refreshed.refresh_token == tokens.refresh_token
    assert _client(sandbox_url, refreshed.access_token).crm.contacts.basic_api.get_by_id(mine)

    assert admin.uninstall(app["clientId"], PORTAL_A) == 1
    with pytest.raises(OAuthApiException) as revoked:
        oauth.tokens_api.create(
            grant_type="refresh_token",
            refresh_token=tokens.refresh_token,
            client_id=app["clientId"],
            client_secret=app["clientSecret"],
        )
    assert (revoked.value.status, _error(revoked.value)["status"]) == (400, "BAD_REFRESH_TOKEN")
    with pytest.raises(ContactsApiException) as gone:
        _client(sandbox_url, refreshed.access_token).crm.contacts.basic_api.get_by_id(mine)
    assert gone.value.status == 401
    assert _error(gone.value)["category"] == "INVALID_AUTHENTICATION"


def test_oauth_refusals_name_what_is_wrong(sandbox_url: str, admin: Any):
    app = admin.oauth_app(portal_id=PORTAL_A, redirectUris=[REDIRECT])
    oauth = hubspot.Client.create(host=sandbox_url).oauth
    unknown = httpx.get(
        f"{sandbox_url}/oauth/authorize",
        params={"client_id": "nope", "scope": "oauth", "redirect_uri": REDIRECT},
        follow_redirects=False,
    )
    assert unknown.status_code == 400
    assert unknown.json()["status"] == "BAD_CLIENT_ID"
    elsewhere = httpx.get(
        f"{sandbox_url}/oauth/authorize",
        params={"client_id": app["clientId"], "scope": "oauth", "redirect_uri": "https://x"},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 400
    assert elsewhere.json()["status"] == "BAD_REDIRECT_URI"

    for overrides, status in (
        ({"client_secret": "wrong"}, "BAD_CLIENT_SECRET"),
        ({"client_id": "nope"}, "BAD_CLIENT_ID"),
        ({"redirect_uri": "https://app.ourco.example/other"}, "BAD_REDIRECT_URI"),
        ({"grant_type": "password"}, "BAD_GRANT_TYPE"),
    ):
        code = _install(sandbox_url, app)
        with pytest.raises(OAuthApiException) as caught:
            _exchange(oauth, app, code, **overrides)
        assert (caught.value.status, _error(caught.value)["status"]) == (400, status)
        assert app["clientSecret"] not in str(caught.value.body)


def test_an_install_grants_the_portal_the_admin_chose(sandbox_url: str, admin: Any):
    app = admin.oauth_app(portal_id=PORTAL_A)
    oauth = hubspot.Client.create(host=sandbox_url).oauth
    first = _exchange(oauth, app, _install(sandbox_url, app))
    admin.update_oauth_app(app["clientId"], portalId=PORTAL_B)
    second = _exchange(oauth, app, _install(sandbox_url, app))

    assert oauth.access_tokens_api.get(first.access_token).hub_id == PORTAL_A
    assert oauth.access_tokens_api.get(second.access_token).hub_id == PORTAL_B
    # Uninstalling from B leaves A's install alone.
    assert admin.uninstall(app["clientId"], PORTAL_B) == 1
    assert _client(sandbox_url, first.access_token).crm.owners.owners_api.get_page()
    # A private-app token of the same portal counts in the portal's own window.
    _client(sandbox_url, admin.register_token(portal_id=PORTAL_A)).crm.owners.owners_api.get_page()
    private = [p for p in admin.calls()["portals"] if "appId" not in p]
    assert [(p["portalId"], p["limit"], p["maxCallsInWindow"]) for p in private] == [
        (PORTAL_A, 190, 1)
    ]
    # A public app's calls count in its own window per portal, at HubSpot's 110 per 10 s.
    windows = [p for p in admin.calls()["portals"] if p.get("appId") == app["appId"]]
    assert windows == [
        {
            "portalId": PORTAL_A,
            "windowMs": 10_000,
            "limit": 110,
            "maxCallsInWindow": 1,
            "maxAdmittedInWindow": 1,
            "appId": app["appId"],
        }
    ]


def test_credential_set_up_refuses_bad_input_with_a_clear_400(admin: Any):
    for path, body, status in (
        ("/hubspot/tokens", {"portalId": "abc"}, 400),
        ("/hubspot/tokens", {"token": 5}, 400),
        ("/hubspot/apps", {"clientId": 5}, 400),
        ("/hubspot/apps", {"redirectUris": "https://x"}, 400),
        ("/hubspot/apps/unknown/uninstall", {}, 404),
        ("/google/service-accounts", {"delegatedDomains": "a.example"}, 400),
        ("/google/service-accounts", {"name": "not a name!"}, 400),
        ("/google/authorized-users", {"user": "nobody"}, 400),
        ("/google/revoke", {}, 400),
    ):
        answer = admin.http.post(path, json=body)
        assert answer.status_code == status, (path, body)
        assert answer.json()["error"]
    assert admin.state("hubspot")["hubspot"]["tokens"] == {"sandbox-token": 1000}
