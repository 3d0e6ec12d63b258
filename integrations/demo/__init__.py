"""The demo agency generator: a believable PPC agency with two years of history.

`seed_demo_agency` writes it (the `seed_demo` command calls it); `DEMO_LOGINS` names the
three users `demo_logins` gives a password. Parts: `people` (departments, pods, staff,
training), `clients` (client histories and deals), `goals`, `activity` (touchpoints,
tactics and CRO tests) and `tasks`, with the word lists in `vocabulary`.
"""

from .people import DEMO_LOGINS
from .seed import SeedReport, seed_demo_agency
from .vocabulary import EMAIL_DOMAIN

__all__ = ["DEMO_LOGINS", "EMAIL_DOMAIN", "SeedReport", "seed_demo_agency"]
