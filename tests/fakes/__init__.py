"""In-memory fakes of the ports, for unit tests of the steps and the runner without HTTP.

Each vendor fake counts its requests per port method (`calls`) and takes queued errors
(`fail_next`); the sandbox stays the check of the wire format.
"""

from tests.fakes.calendar import FakeCalendar
from tests.fakes.crm import FakeCRM
from tests.fakes.drive import FakeDrive
from tests.fakes.effects import Crash, FakeEffects
from tests.fakes.faults import FakeVendor
from tests.fakes.history import FakeLeadHistory
from tests.fakes.mail import FakeMail

__all__ = [
    "Crash",
    "FakeCRM",
    "FakeCalendar",
    "FakeDrive",
    "FakeEffects",
    "FakeLeadHistory",
    "FakeMail",
    "FakeVendor",
]
