"""What the agency does with each client besides tasks: touchpoints, tactics and CRO tests."""

from clients.models import Channel, Direction, Touchpoint
from workflows.models import Tactic, TacticKind, TacticOutcome

from . import vocabulary
from .base import DAY, decimal, random_day, rng_for
from .clients import ClientPlan
from .goals import fill
from .people import Agency

CHANNEL_WEIGHTS = {
    Channel.EMAIL: 36,
    Channel.CALL: 18,
    Channel.MEETING: 12,
    Channel.CHAT: 22,
    Channel.REPORT: 12,
}
# Days until the next contact (mean about four).
CONTACT_GAPS = (1, 2, 3, 4, 5, 6, 7, 8)
CONTACT_GAP_WEIGHTS = (8, 16, 20, 18, 14, 10, 8, 6)
QUIET_SPELL_CHANCE = 0.004  # per contact: then two to four weeks of silence

# Confidence bucket of a CRO test -> (share of tests, range, outcome weights win/loss/incon.).
CRO_BUCKETS = (
    (35, (50.0, 89.99), (15, 15, 70)),
    (20, (90.0, 94.99), (40, 30, 30)),
    (22, (95.0, 98.99), (55, 40, 5)),
    (23, (99.0, 99.99), (60, 40, 0)),
)
DECIDED = (TacticOutcome.WIN, TacticOutcome.LOSS, TacticOutcome.INCONCLUSIVE)


def touchpoints_for(plan: ClientPlan, agency: Agency) -> list[Touchpoint]:
    """Contact every few days through every channel, mostly outbound, with now and then a
    quiet spell; a client chosen to be going quiet has heard nothing from us for 2-5 weeks
    today (it may have written in, which does not count)."""
    rng = rng_for(agency.seed, "touchpoints", plan.key)
    today = agency.today
    team = plan.team
    touchpoints = []

    def touch(day, channel, direction):
        person = rng.choices(
            (plan.account_manager, team.designer, team.director), weights=(80, 12, 8)
        )[0]
        summaries = vocabulary.TOUCHPOINT_SUMMARIES[(channel.value, direction.value)]
        touchpoints.append(
            Touchpoint(
                client=plan.client,
                staff=person,
                occurred_on=day,
                channel=channel,
                direction=direction,
                summary=rng.choice(summaries),
            )
        )

    for start, end, _ in plan.spans_within(agency.history_start, today):
        going_quiet = bool(plan.quiet_for) and end == today
        last_contact = today - plan.quiet_for * DAY if going_quiet else end
        day = start + rng.randint(0, 3) * DAY
        while day < last_contact or (day == last_contact and not going_quiet):
            channel = rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
            inbound_chance = {Channel.REPORT: 0, Channel.CALL: 0.12, Channel.MEETING: 0.12}
            if rng.random() < inbound_chance.get(channel, 0.25):
                touch(day, channel, Direction.INBOUND)
            else:
                touch(day, channel, Direction.OUTBOUND)
            if rng.random() < QUIET_SPELL_CHANCE:
                day += rng.randint(12, 28) * DAY
            else:
                day += rng.choices(CONTACT_GAPS, weights=CONTACT_GAP_WEIGHTS)[0] * DAY
        if going_quiet:  # our last word, then only the client writing
            touch(last_contact, Channel.EMAIL, Direction.OUTBOUND)
            for _ in range(rng.randint(0, 2)):
                day = random_day(rng, last_contact + DAY, today)
                touch(day, rng.choice((Channel.EMAIL, Channel.CHAT)), Direction.INBOUND)
    return touchpoints


def tactics_for(plan: ClientPlan, agency: Agency) -> list[Tactic]:
    """A new tactic or CRO test every few weeks while the client is served. Tests still
    running today have no end; the others won, lost or were inconclusive (CRO tests with a
    confidence spread over every bucket, and a lift)."""
    rng = rng_for(agency.seed, "tactics", plan.key)
    today = agency.today
    tactics = []
    for start, end, _ in plan.spans_within(agency.history_start, today):
        day = start + rng.randint(0, 40) * DAY
        while day <= end:
            is_cro_test = rng.random() < 0.35
            duration = rng.randint(14, 45) if is_cro_test else rng.randint(21, 75)
            ended_on = day + duration * DAY
            if ended_on >= today:
                ended_on = None  # still running
            elif ended_on > end:
                ended_on = end  # stopped when the client left
            if end < today and ended_on is None:
                ended_on = end
            tactic = Tactic(
                key=f"demo-tactic-{plan.number:04d}-{len(tactics) + 1:03d}",
                client=plan.client,
                started_on=day,
                ended_on=ended_on,
            )
            if is_cro_test:
                _cro_test(rng, tactic, plan)
            else:
                tactic.kind = TacticKind.TACTIC
                tactic.name = fill(rng.choice(vocabulary.TACTICS), rng)
                tactic.owner = plan.account_manager if rng.random() < 0.9 else plan.team.designer
                tactic.outcome = (
                    TacticOutcome.RUNNING
                    if ended_on is None
                    else rng.choices(DECIDED, weights=(38, 30, 32))[0]
                )
            tactics.append(tactic)
            day += rng.randint(15, 50) * DAY
    return tactics


def _cro_test(rng, tactic: Tactic, plan: ClientPlan) -> None:
    tactic.kind = TacticKind.CRO_TEST
    name = fill(rng.choice(vocabulary.CRO_TESTS), rng)
    tactic.name = name[0].upper() + name[1:]
    tactic.owner = plan.team.designer
    _, (low, high), outcome_weights = rng.choices(
        CRO_BUCKETS, weights=[bucket[0] for bucket in CRO_BUCKETS]
    )[0]
    if tactic.ended_on is None:
        tactic.outcome = TacticOutcome.RUNNING
        if rng.random() < 0.7:  # an interim reading
            tactic.confidence = decimal(rng.uniform(40, 97), 2)
            tactic.lift_pct = decimal(rng.uniform(-8, 15), 2)
        return
    tactic.outcome = rng.choices(DECIDED, weights=outcome_weights)[0]
    tactic.confidence = decimal(rng.uniform(low, high), 2)
    lift = {
        TacticOutcome.WIN: rng.uniform(3, 35),
        TacticOutcome.LOSS: -rng.uniform(2, 25),
        TacticOutcome.INCONCLUSIVE: rng.uniform(-3, 3),
    }[tactic.outcome]
    tactic.lift_pct = decimal(lift, 2)
