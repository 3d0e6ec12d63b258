"""The demo agency's clients: two years of arrivals, fee changes, churn and returns, and the
sales deals that brought them in."""

import dataclasses
import datetime
import random
from decimal import Decimal

from clients.models import Client, Engagement
from godview.models import Staff
from workflows.models import Deal, DealStatus

from . import vocabulary
from .base import DAY, Writer, money, random_day, rng_for
from .people import Agency, Team

MONTHS_OF_HISTORY = 24
INITIAL_SHARE = 0.62  # active clients two years ago, as a share of today's
MONTHLY_CHURN = (0.025, 0.045)
MONTHLY_FEE_CHANGE = 0.035
MONTHLY_RETURN = 0.035  # chance that a former client comes back, per month
MIN_DAYS_BEFORE_CHURN = 60
QUIET_SHARE = 0.03  # active clients that have not heard from us for 2-5 weeks today
FEE_LEVELS = (1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000, 7500, 9000, 12000)
FEE_WEIGHTS = (6, 10, 12, 12, 10, 10, 9, 7, 5, 3, 2)


@dataclasses.dataclass
class EngagementPlan:
    started_on: datetime.date
    ended_on: datetime.date | None
    monthly_fee: Decimal


@dataclasses.dataclass
class ClientPlan:
    """One client's whole story before it is written: its engagements, team and temper."""

    number: int
    name: str
    industry: str
    engagements: list[EngagementPlan]
    team: Team | None = None
    account_manager: Staff | None = None
    client: Client | None = None
    # For a client going quiet right now: the days since we last contacted it.
    quiet_for: int = 0

    @property
    def key(self) -> str:
        return f"demo-client-{self.number:04d}"

    @property
    def is_active(self) -> bool:
        return self.engagements[-1].ended_on is None

    def service_periods(self) -> list[tuple[datetime.date, datetime.date | None]]:
        """Runs of engagements without a gap, as (first day, last day or None)."""
        periods = []
        for engagement in self.engagements:
            if (
                periods
                and periods[-1][1] is not None
                and (engagement.started_on == periods[-1][1] + DAY)
            ):
                periods[-1] = (periods[-1][0], engagement.ended_on)
            else:
                periods.append((engagement.started_on, engagement.ended_on))
        return periods

    def spans_within(self, first: datetime.date, last: datetime.date):
        """The service periods clipped to [first, last], as (start, end, period start)."""
        spans = []
        for start, end in self.service_periods():
            clipped_start, clipped_end = max(start, first), min(end or last, last)
            if clipped_start <= clipped_end:
                spans.append((clipped_start, clipped_end, start))
        return spans

    def active_on(self, day: datetime.date) -> bool:
        return any(
            e.started_on <= day and (e.ended_on is None or day <= e.ended_on)
            for e in self.engagements
        )


class CompanyNames:
    """Unique, believable company names such as "Harbor Dental" or "Patel Roofing"."""

    def __init__(self):
        self.taken: set[str] = set()

    def make(self, rng: random.Random, industry: str) -> str:
        endings = vocabulary.INDUSTRIES[industry][1]
        for attempt in range(1000):
            if rng.random() < 0.7:
                start = rng.choice(vocabulary.COMPANY_PREFIXES)
            else:
                start = rng.choice(vocabulary.LAST_NAMES)
            name = f"{start} {rng.choice(endings)}"
            if attempt > 50:  # the plain combinations are running out
                name = f"{name} {rng.choice(vocabulary.COMPANY_PREFIXES)}"
            if name not in self.taken:
                self.taken.add(name)
                return name
        raise RuntimeError("Ran out of company names; add words to the vocabulary.")


def _industry(rng: random.Random) -> str:
    names = list(vocabulary.INDUSTRIES)
    return rng.choices(names, weights=[vocabulary.INDUSTRIES[n][0] for n in names])[0]


def _changed_fee(rng: random.Random, fee: Decimal) -> Decimal:
    """Mostly upsells (an add-on service), sometimes a cut."""
    factor = rng.uniform(1.1, 1.5) if rng.random() < 0.7 else rng.uniform(0.7, 0.9)
    return money(float(fee) * factor)


def plan_histories(*, agency: Agency, clients: int, names: CompanyNames) -> list[ClientPlan]:
    """Simulate two years month by month: churn of 2-4% a month, fee changes, former clients
    returning after a gap, and just enough new clients that `clients` are active today."""
    rng = rng_for(agency.seed, "client-histories")
    today, history_start = agency.today, agency.history_start
    plans: list[ClientPlan] = []

    def arrive(started_on):
        industry = _industry(rng)
        fee = money(rng.choices(FEE_LEVELS, weights=FEE_WEIGHTS)[0] * rng.uniform(0.9, 1.1))
        plans.append(
            ClientPlan(
                number=len(plans) + 1,
                name=names.make(rng, industry),
                industry=industry,
                engagements=[EngagementPlan(started_on, None, fee)],
            )
        )

    initial = max(1, round(clients * INITIAL_SHARE))
    for _ in range(initial):
        arrive(history_start - datetime.timedelta(days=rng.randint(20, 1600)))

    span = (today - history_start).days
    bounds = [
        history_start + datetime.timedelta(days=round(month * span / MONTHS_OF_HISTORY))
        for month in range(MONTHS_OF_HISTORY + 1)
    ]
    for month in range(MONTHS_OF_HISTORY):
        first, last = bounds[month], bounds[month + 1] - DAY
        churn = rng.uniform(*MONTHLY_CHURN)
        for plan in list(plans):
            current = plan.engagements[-1]
            if current.ended_on is None:
                period_start = plan.service_periods()[-1][0]
                settled = (first - period_start).days >= MIN_DAYS_BEFORE_CHURN
                if settled and rng.random() < churn:
                    # A settled client's engagement started before this month.
                    current.ended_on = random_day(rng, max(first, current.started_on + DAY), last)
                elif rng.random() < MONTHLY_FEE_CHANGE:
                    changed_on = random_day(rng, max(first, current.started_on + 30 * DAY), last)
                    if changed_on is not None:
                        current.ended_on = changed_on - DAY
                        plan.engagements.append(
                            EngagementPlan(changed_on, None, _changed_fee(rng, current.monthly_fee))
                        )
            elif (first - current.ended_on).days >= 45 and rng.random() < MONTHLY_RETURN:
                fee = money(float(current.monthly_fee) * rng.uniform(0.8, 1.2))
                returned_on = random_day(rng, max(first, current.ended_on + 31 * DAY), last)
                plan.engagements.append(EngagementPlan(returned_on, None, fee))
        active = sum(1 for plan in plans if plan.is_active)
        if month == MONTHS_OF_HISTORY - 1:
            arrivals = clients - active
        else:
            goal = initial + (clients - initial) * (month + 1) / MONTHS_OF_HISTORY
            arrivals = round(goal - active + rng.uniform(-1.5, 1.5))
        for _ in range(max(0, arrivals)):
            arrive(random_day(rng, first, last))
    return plans


def assign_teams(*, agency: Agency, plans: list[ClientPlan]) -> None:
    """Give every client an account manager (some get more than their share, so that a few
    are over capacity) and that manager's pod; pick the clients going quiet right now."""
    rng = rng_for(agency.seed, "client-teams")
    team_of = {am.key: team for team in agency.teams for am in team.account_managers}
    account_managers = [am for team in agency.teams for am in team.account_managers]
    share = agency.client_share
    active_clients = {am.key: 0 for am in account_managers}
    for plan in plans:
        if plan.is_active:  # today's clients: each to the manager furthest below their share
            plan.account_manager = min(
                account_managers, key=lambda am: (active_clients[am.key] + 1) / share[am.key]
            )
            active_clients[plan.account_manager.key] += 1
        else:
            weights = [share[am.key] for am in account_managers]
            plan.account_manager = rng.choices(account_managers, weights=weights)[0]
        plan.team = team_of[plan.account_manager.key]

    settled_since = agency.today - 45 * DAY
    eligible = [p for p in plans if p.is_active and p.service_periods()[-1][0] <= settled_since]
    active_count = sum(1 for plan in plans if plan.is_active)
    quiet = rng.sample(eligible, min(len(eligible), max(1, round(QUIET_SHARE * active_count))))
    demo_am = account_managers[0]
    if not any(plan.account_manager == demo_am for plan in quiet):
        quiet += [plan for plan in eligible if plan.account_manager == demo_am][:1]
    for plan in quiet:
        plan.quiet_for = rng.randint(14, 35)


def build_clients(*, writer: Writer, plans: list[ClientPlan]) -> None:
    """Write the clients and their engagements."""
    for plan in plans:
        plan.client = Client(
            key=plan.key,
            name=plan.name,
            pod=plan.team.pod,
            account_manager=plan.account_manager,
            industry=plan.industry,
        )
    writer.insert(Client, [plan.client for plan in plans])
    writer.insert(
        Engagement,
        [
            Engagement(
                client=plan.client,
                started_on=e.started_on,
                ended_on=e.ended_on,
                monthly_fee=e.monthly_fee,
            )
            for plan in plans
            for e in plan.engagements
        ],
    )


def build_deals(*, writer: Writer, agency: Agency, plans: list[ClientPlan], names) -> None:
    """Won deals for every client that started (or came back, or bought an add-on) in the two
    years, lost deals for companies that never signed, and an open pipeline."""
    rng = rng_for(agency.seed, "deals")
    today, history_start = agency.today, agency.history_start
    deals = []

    def owner_on(day):
        working = [person for person in agency.sales if agency.works_on(person, day)]
        return rng.choice(working or [p for p in agency.sales if p.active])

    def add(name, created_on, closed_on, status, amount, client=None):
        deals.append(
            Deal(
                key=f"demo-deal-{len(deals) + 1:05d}",
                name=name,
                owner=owner_on(created_on),
                client=client,
                created_on=created_on,
                closed_on=closed_on,
                status=status,
                amount=amount,
            )
        )

    for plan in plans:
        previous = None
        for engagement in plan.engagements:
            started_on = engagement.started_on
            is_add_on = previous is not None and started_on == previous.ended_on + DAY
            if started_on >= history_start and not (
                is_add_on and engagement.monthly_fee <= previous.monthly_fee
            ):
                closed_on = started_on - rng.randint(1, 10) * DAY
                created_on = closed_on - rng.randint(7, 70) * DAY
                if is_add_on:
                    service = rng.choice(vocabulary.ADD_ON_SERVICES)
                    amount = (engagement.monthly_fee - previous.monthly_fee) * 12
                else:
                    service = rng.choice(vocabulary.DEAL_SERVICES)
                    amount = engagement.monthly_fee * 12
                add(
                    f"{plan.name} - {service}",
                    created_on,
                    closed_on,
                    DealStatus.WON,
                    amount,
                    plan.client,
                )
            previous = engagement

    def prospect_amount():
        return money(rng.choices(FEE_LEVELS, weights=FEE_WEIGHTS)[0] * 12, 100)

    for _ in range(round(len(deals) * 1.5)):
        industry = _industry(rng)
        created_on = random_day(rng, history_start, today - 7 * DAY)
        closed_on = created_on + rng.randint(10, 90) * DAY
        name = f"{names.make(rng, industry)} - {rng.choice(vocabulary.DEAL_SERVICES)}"
        if closed_on > today:
            add(name, created_on, None, DealStatus.OPEN, prospect_amount())
        else:
            add(name, created_on, closed_on, DealStatus.LOST, prospect_amount())
    for _ in range(4 * sum(1 for person in agency.sales if person.active)):
        industry = _industry(rng)
        name = f"{names.make(rng, industry)} - {rng.choice(vocabulary.DEAL_SERVICES)}"
        amount = prospect_amount() if rng.random() < 0.9 else None
        add(name, random_day(rng, today - 75 * DAY, today), None, DealStatus.OPEN, amount)
    writer.insert(Deal, deals)
