"""A lead as the pipeline sees it once its form fields are normalised."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Lead(BaseModel):
    """A validated inbound lead: who, from which form, and every field they sent."""

    model_config = ConfigDict(frozen=True)

    email: str
    email_domain: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job_title: str | None = None
    phone: str | None = None
    website: str | None = None
    industry: str | None = None
    interest: str | None = Field(default=None, description="what the prospect asked about")
    fields: dict[str, str] = Field(default_factory=dict, description="every field, canonical names")
    portal_id: int | None = None
    form_id: str | None = None
    submission_id: str | None = None
    submitted_at: datetime | None = None

    @property
    def full_name(self) -> str | None:
        """First and last name when either is known."""
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or None


class ValidationOutcome(BaseModel):
    """Step 1's answer: the lead, and a reason when it must be skipped (not rejected)."""

    model_config = ConfigDict(frozen=True)

    lead: Lead
    skip_reason: str | None = None
