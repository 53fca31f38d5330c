"""Step 3: the prospect's company by domain (never a free-mail one) or by name, created once."""

import pytest

from sales_agent_pipeline.domain.errors import PermanentError, TransientError, WriteInProgress
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.ports.effects import Effects
from sales_agent_pipeline.ports.vendors import CRM
from sales_agent_pipeline.steps.resolve_company import (
    company_name_from_domain,
    is_free_mail,
    resolve_company,
)
from tests.fakes import Crash, FakeCRM, FakeEffects
from tests.unit.steps.examples import lead

ACME = lead("jane@acme-robotics.example", company="Acme Robotics")


@pytest.mark.parametrize(
    ("domain", "free"),
    [("gmail.com", True), ("outlook.com", True), ("GMX.de", True), ("acme.example", False)],
)
def test_free_mail_domains(domain: str, free: bool) -> None:
    assert is_free_mail(domain) is free


def test_company_name_from_a_domain() -> None:
    assert company_name_from_domain("acme-robotics.example") == "Acme Robotics"
    assert company_name_from_domain("www.globex.co.uk") == "Globex"


def contact_of(crm: CRM, prospect: Lead) -> str:
    return crm.upsert_contact(prospect.email, {}).id


def test_a_known_domain_finds_the_company_and_links_the_contact() -> None:
    crm = FakeCRM()
    acme = crm.create_company("Acme Robotics Inc", "acme-robotics.example")
    contact = contact_of(crm, ACME)
    result = resolve_company(crm, FakeEffects(), ACME, contact)
    assert (result.company, result.matched_by, result.created) == (acme, "domain", False)
    assert crm.companies == [acme]
    assert crm.companies_of(contact) == [acme]


def test_a_free_mail_lead_is_matched_by_company_name_only() -> None:
    crm = FakeCRM()
    acme = crm.create_company("Acme Robotics", "acme-robotics.example")
    prospect = lead("jane.doe@gmail.com", company="ACME ROBOTICS")
    contact = contact_of(crm, prospect)
    result = resolve_company(crm, FakeEffects(), prospect, contact)
    assert (result.company, result.matched_by) == (acme, "name")
    assert crm.companies_of(contact) == [acme]
    assert crm.calls["find_company_by_domain"] == 0  # gmail.com is nobody's company


def test_a_free_mail_lead_without_a_company_gets_none_and_a_reason() -> None:
    crm = FakeCRM()
    prospect = lead("jane.doe@gmail.com")
    contact = contact_of(crm, prospect)
    result = resolve_company(crm, FakeEffects(), prospect, contact)
    assert result.company is None
    assert result.reason == "gmail.com is a free-mail domain and the form named no company"
    assert crm.companies == []
    assert crm.associations == set()


def test_an_unknown_company_is_created_with_its_domain_and_linked() -> None:
    crm = FakeCRM()
    contact = contact_of(crm, ACME)
    result = resolve_company(crm, FakeEffects(), ACME, contact)
    assert (result.created, result.matched_by) == (True, None)
    assert result.company is not None
    assert (result.company.name, result.company.domain) == (
        "Acme Robotics",
        "acme-robotics.example",
    )
    assert crm.companies == [result.company]
    assert crm.companies_of(contact) == [result.company]


def test_an_unnamed_company_is_named_after_its_domain() -> None:
    crm = FakeCRM()
    prospect = lead("sam@globex-systems.example")
    result = resolve_company(crm, FakeEffects(), prospect, contact_of(crm, prospect))
    assert result.company is not None
    assert (result.company.name, result.company.domain) == (
        "Globex Systems",
        "globex-systems.example",
    )


def test_a_free_mail_leads_company_is_created_by_name_without_a_domain() -> None:
    crm = FakeCRM()
    prospect = lead("jane.doe@gmail.com", company="Initech")
    result = resolve_company(crm, FakeEffects(), prospect, contact_of(crm, prospect))
    assert result.company is not None
    assert (result.company.name, result.company.domain) == ("Initech", None)


def test_leads_of_one_new_company_make_it_once_while_search_lags() -> None:
    # HubSpot's search does not see the company made a moment ago; the record does.
    fake = FakeCRM(search_lags=True)
    crm: CRM = fake
    effects: Effects = FakeEffects()
    jane, sam = ACME, lead("sam@acme-robotics.example", company="Acme Robotics")
    first = resolve_company(crm, effects, jane, contact_of(crm, jane))
    sam_contact = contact_of(crm, sam)
    second = resolve_company(crm, effects, sam, sam_contact)
    assert len(fake.companies) == 1
    assert second.company == first.company
    assert fake.companies_of(sam_contact) == fake.companies


def test_a_refused_create_writes_nothing_and_the_next_attempt_creates() -> None:
    crm, effects = FakeCRM(), FakeEffects()
    contact = contact_of(crm, ACME)
    crm.fail_next("create_company", PermanentError("HubSpot 400", http_status=400))
    with pytest.raises(PermanentError):
        resolve_company(crm, effects, ACME, contact)
    assert crm.companies == []
    result = resolve_company(crm, effects, ACME, contact)
    assert crm.companies == [result.company]


def test_a_create_whose_answer_was_lost_is_found_by_the_retry() -> None:
    crm, effects = FakeCRM(), FakeEffects()
    contact = contact_of(crm, ACME)
    crm.fail_next("create_company", TransientError("HubSpot 502"), after_write=True)
    with pytest.raises(TransientError):
        resolve_company(crm, effects, ACME, contact)
    result = resolve_company(crm, effects, ACME, contact)
    assert (result.matched_by, len(crm.companies)) == ("domain", 1)
    assert crm.companies_of(contact) == crm.companies


def test_a_batchs_search_is_not_repeated_per_lead() -> None:
    crm = FakeCRM()
    acme = crm.create_company("Acme Robotics", "acme-robotics.example")
    contact = contact_of(crm, ACME)
    known = {("domain", "acme-robotics.example"): acme}
    result = resolve_company(crm, FakeEffects(), ACME, contact, known)
    assert (result.company, result.matched_by) == (acme, "domain")
    assert crm.companies_of(contact) == [acme]
    assert crm.calls["find_company_by_domain"] + crm.calls["find_company_by_name"] == 0


def test_a_domain_the_batch_did_not_find_is_looked_up_by_name() -> None:
    crm = FakeCRM()
    acme = crm.create_company("Acme Robotics", "acme-robotics.com")
    known = {("domain", "acme-robotics.example"): None}
    result = resolve_company(crm, FakeEffects(), ACME, contact_of(crm, ACME), known)
    assert (result.company, result.matched_by) == (acme, "name")
    assert (crm.calls["find_company_by_domain"], crm.calls["find_company_by_name"]) == (0, 1)


def test_a_company_the_batch_found_nowhere_is_created_once_without_a_search() -> None:
    crm, effects = FakeCRM(), FakeEffects()
    known = {("domain", "acme-robotics.example"): None, ("name", "acme robotics"): None}
    contact = contact_of(crm, ACME)
    first = resolve_company(crm, effects, ACME, contact, known)
    # A retry of the lead with the same (now stale) batch answer makes no second company.
    again = resolve_company(crm, effects, ACME, contact, known)
    assert first.created
    assert again.company == first.company
    assert len(crm.companies) == 1
    assert crm.calls["find_company_by_domain"] + crm.calls["find_company_by_name"] == 0


def test_a_create_whose_answer_was_lost_is_not_made_again_while_search_lags() -> None:
    crm, effects = FakeCRM(search_lags=True), FakeEffects()
    contact = contact_of(crm, ACME)
    crm.fail_next("create_company", TransientError("HubSpot timed out"), after_write=True)
    with pytest.raises(TransientError):
        resolve_company(crm, effects, ACME, contact)
    with pytest.raises(WriteInProgress):
        resolve_company(crm, effects, ACME, contact)
    assert (crm.calls["create_company"], len(crm.companies)) == (1, 1)
    crm.index()
    result = resolve_company(crm, effects, ACME, contact)
    assert crm.companies == [result.company]
    assert crm.companies_of(contact) == crm.companies


def test_a_second_run_waits_for_the_first_ones_company_instead_of_making_another() -> None:
    crm, first = FakeCRM(search_lags=True), FakeEffects()
    first.crash_after_next("hubspot.company.create")  # the first run dies mid-create
    with pytest.raises(Crash):
        resolve_company(crm, first, ACME, contact_of(crm, ACME))
    second = first.as_owner("run-2")
    sam = lead("sam@acme-robotics.example", company="Acme Robotics")
    with pytest.raises(WriteInProgress):
        resolve_company(crm, second, sam, contact_of(crm, sam))
    second.advance(601)  # the dead run's lease has expired; the index caught up
    crm.index()
    result = resolve_company(crm, second, sam, contact_of(crm, sam))
    assert crm.companies == [result.company]
