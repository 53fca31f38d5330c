"""The leads, slots and files the step tests share."""

from datetime import UTC, datetime, timedelta

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import DriveFile
from sales_agent_pipeline.domain.schedule import MeetingSlot
from sales_agent_pipeline.domain.workflow import SimilarPatterns

LEAD = Lead(
    email="jane@acme-robotics.example",
    email_domain="acme-robotics.example",
    first_name="Jane",
    company="Acme Robotics",
    industry="Robotics",
    interest="Fleet automation for our warehouses",
)
# The lead the thread and pattern tests compare against.
ACME = Lead(email="jane@acme.example", email_domain="acme.example", industry="Robotics")
PATTERNS = SimilarPatterns(angle="first contact")
SLOT = MeetingSlot(
    start=datetime(2026, 11, 25, 15, tzinfo=UTC),
    end=datetime(2026, 11, 25, 15, 30, tzinfo=UTC),
    timezone="America/New_York",
)


def drive_file(name: str, days_old: int = 10) -> DriveFile:
    """A PDF modified `days_old` days before 1 November 2026."""
    return DriveFile(
        id=name,
        name=name,
        mime_type="application/pdf",
        web_link=f"https://drive.example/{name}",
        modified_time=datetime(2026, 11, 1, tzinfo=UTC) - timedelta(days=days_old),
    )


def lead(email: str, **fields: str) -> Lead:
    """A lead as step 1 makes it: the email, its domain and the form's canonical fields."""
    return Lead(
        email=email,
        email_domain=email.rsplit("@", 1)[1],
        company=fields.get("company"),
        industry=fields.get("industry"),
        interest=fields.get("interest"),
        job_title=fields.get("job_title"),
        first_name=fields.get("first_name"),
        portal_id=1000,
        fields={"email": email, **fields},
    )
