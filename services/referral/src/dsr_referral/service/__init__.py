"""The referral service's use cases: every transaction it makes, each through
the unit of work, loading through the repositories and asking domain/ to
decide. handlers.py and api.py call these; app.py builds them."""

from dsr_referral.service.age_bands import AgeBands
from dsr_referral.service.discharges import Discharges
from dsr_referral.service.intake import Intake, IntakeAnswer, Submitter
from dsr_referral.service.people import AddressChange, People
from dsr_referral.service.ports import Ports

__all__ = ["AddressChange", "AgeBands", "Discharges", "Intake", "IntakeAnswer", "People", "Ports", "Submitter"]
