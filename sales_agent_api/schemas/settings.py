"""A tenant's operator settings: what GET shows, what PUT accepts, and their audit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from sales_agent_api.schemas.credentials import Reauthorisation
from sales_agent_pipeline.domain.drafting import WriterKind, WriterSettings
from sales_agent_pipeline.domain.enums import HubSpotAuth, WorkflowMode
from sales_agent_pipeline.domain.submission import MAX_ID_LENGTH, InvalidSubmission, check_storable
from sales_agent_pipeline.domain.workflow import OwnerHours, VoiceProfile

FormId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH)
]
FolderId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
MAX_IDS = 500
# A day of sends is bounded by Gmail's own per-user limit (2,000 for Workspace).
MAX_DAILY_CAP = 2000
MAX_THROTTLE_SECONDS = 90 * 86400


# Owners a tenant may list working hours for, and what an owner key must look like.
MAX_OWNERS = 500
OwnerEmail = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


class VoiceProfileInput(VoiceProfile):
    """The voice profile as the API accepts it: the pipeline's model, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TenantSettingsView(BaseModel):
    """The tenant's settings, and the global ones that bound them."""

    portal_id: int
    name: str
    mode: WorkflowMode | None = Field(description="null: the global WORKFLOW_MODE applies")
    kill_switch: bool
    allowed_form_ids: list[str]
    drive_folder_ids: list[str]
    daily_send_cap: int
    throttle_window_seconds: int
    voice_profile: VoiceProfile
    draft_writer: WriterSettings = Field(
        description="who writes the drafts: writer (template, openai, anthropic; null: "
        "DRAFT_WRITER), model (null: LLM_MODEL), temperature, language policy (lead: the "
        "lead's language when supported; fixed: default_language), style guide, up to 3 "
        "example emails, daily token budget (null: LLM_DAILY_TOKEN_BUDGET)"
    )
    route_by_owner: bool | None = Field(
        description="draft and send from the contact owner's mailbox (domain-wide "
        "delegation), else the tenant's sender; null: ROUTE_BY_OWNER"
    )
    owner_hours: dict[str, OwnerHours] = Field(
        description="owners' working hours by owner email: time_zone, start, end, days (0 "
        "Monday .. 6 Sunday); they drive the proposed slots and the send window"
    )
    global_draft_writer: WriterKind = Field(description="DRAFT_WRITER (read-only here)")
    global_llm_model: str | None = Field(description="LLM_MODEL (read-only here)")
    global_mode: WorkflowMode = Field(description="WORKFLOW_MODE (read-only here)")
    global_kill_switch: bool = Field(
        description="the global send kill switch: `sales-agent send kill-switch`, the "
        "operator's PUT /api/admin/switches/send-kill-switch, or SEND_KILL_SWITCH (read-only "
        "here)"
    )
    disabled: bool = Field(description="a disabled tenant's deliveries are refused (403)")
    hubspot_auth: HubSpotAuth | None = Field(description="private_app or oauth (read-only)")
    reauthorisation: Reauthorisation
    notes: list[str] = Field(
        default_factory=list,
        description="after a PUT: ids kept without a check (the vendor was unreachable)",
    )


def _only_mode_is_nullable(schema: dict[str, Any]) -> None:
    """The documented schema: null is accepted for `mode` only (the validator enforces it)."""
    for name, field in schema.get("properties", {}).items():
        if name == "mode" or "anyOf" not in field:
            continue
        (kept,) = [branch for branch in field.pop("anyOf") if branch.get("type") != "null"]
        field.update(kept)
        field.pop("default", None)


class SettingsUpdate(BaseModel):
    """A partial update: only the fields given change (`mode: null` means the global mode)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_only_mode_is_nullable)

    mode: WorkflowMode | None = Field(default=None, description="null: the global mode")
    # None here means "not given": a field left out keeps its value, an explicit null is
    # refused by the validator below.
    kill_switch: bool | None = None
    allowed_form_ids: Annotated[list[FormId], Field(max_length=MAX_IDS)] | None = None
    drive_folder_ids: Annotated[list[FolderId], Field(max_length=MAX_IDS)] | None = None
    daily_send_cap: Annotated[int, Field(ge=0, le=MAX_DAILY_CAP)] | None = None
    throttle_window_seconds: Annotated[int, Field(ge=0, le=MAX_THROTTLE_SECONDS)] | None = None
    voice_profile: VoiceProfileInput | None = None
    draft_writer: WriterSettings | None = None
    route_by_owner: bool | None = None
    owner_hours: Annotated[dict[OwnerEmail, OwnerHours], Field(max_length=MAX_OWNERS)] | None = None

    @field_validator(
        "allowed_form_ids",
        "drive_folder_ids",
        "voice_profile",
        "draft_writer",
        "owner_hours",
        mode="before",
    )
    @classmethod
    def _storable(cls, value: Any, info: ValidationInfo) -> Any:
        # PostgreSQL stores no NUL character and no lone surrogate (text[] and jsonb alike):
        # refused here, naming the field (a 400), never a database error (a 500).
        try:
            check_storable(value, str(info.field_name))
        except InvalidSubmission as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator(
        "kill_switch",
        "allowed_form_ids",
        "drive_folder_ids",
        "daily_send_cap",
        "throttle_window_seconds",
        "voice_profile",
        "draft_writer",
        "route_by_owner",
        "owner_hours",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Runs only for given values (defaults are not validated): null is a mistake here.
        if value is None:
            raise ValueError("may not be null (leave the field out to keep its value)")
        return value

    def changes(self) -> dict[str, Any]:
        """The given fields as stored values (JSON-ready), by their API names."""
        given: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "mode":
                given[name] = value.value if value is not None else None
            elif name in ("voice_profile", "draft_writer"):
                given[name] = value.model_dump(mode="json")
            elif name == "owner_hours":
                # Keyed by lower-case email, as step 2 looks an owner up.
                given[name] = {
                    email.lower(): hours.model_dump(mode="json") for email, hours in value.items()
                }
            elif name in ("allowed_form_ids", "drive_folder_ids"):
                # Order kept, repeats dropped: the stored list is what the webhook checks.
                given[name] = list(dict.fromkeys(value))
            else:
                given[name] = value
        return given


class SettingsChangeView(BaseModel):
    """One accepted change: who, when, and the old and new values of what changed."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    changed_by: str
    api_key_id: uuid.UUID | None
    changed_at: datetime
    old: dict[str, Any]
    new: dict[str, Any]


class SettingsChangeList(BaseModel):
    """The audit of settings changes, newest first."""

    items: list[SettingsChangeView]
