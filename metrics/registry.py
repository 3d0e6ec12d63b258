"""Every metric of DOMAIN.md, defined once: key, label, unit, levels, direction, meaning.

The glossary page, the export and API, tables and charts all read these definitions, so a
metric's wording and its key never drift apart. Keys are DOMAIN.md's keys.
"""

from dataclasses import dataclass

AGENCY, DEPARTMENT, POD, STAFF, CLIENT = "agency", "department", "pod", "staff", "client"
LEVELS = (AGENCY, DEPARTMENT, POD, STAFF, CLIENT)

# Units decide formatting and rounding (DOMAIN.md: percentages to one decimal, money to
# two, other non-integer figures to two).
COUNT = "count"
PERCENT = "percent"
MONEY = "money"
DAYS = "days"
NUMBER = "number"
MONTHS = "months"
SCORE = "score"
CODES = "codes"
TEXTS = "texts"
BUCKETS = "buckets"
FLAG = "flag"
PARTS = "parts"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    group: str
    unit: str
    levels: frozenset
    higher_is_better: bool | None
    definition: str
    # Staff-level metrics that apply to account managers only (their clients' figures).
    account_managers_only: bool = False

    def applies_to(self, level: str, role: str | None = None) -> bool:
        if level not in self.levels:
            return False
        if level == STAFF and self.account_managers_only:
            return role == "account_manager"
        return True


def _levels(*levels):
    return frozenset(levels)


WIDE = _levels(AGENCY, DEPARTMENT, POD)
WIDE_AM = _levels(AGENCY, DEPARTMENT, POD, STAFF)  # staff: account managers only
WIDE_AM_CLIENT = _levels(AGENCY, DEPARTMENT, POD, STAFF, CLIENT)
EVERY = _levels(*LEVELS)
PEOPLE = _levels(AGENCY, DEPARTMENT, POD, STAFF)

CLIENTS = "Clients and revenue"
COMMUNICATION = "Communication"
DEADLINES = "Deadlines"
GOALS = "Goals"
TACTICS = "Tactics and tests"
PEOPLE_GROUP = "People"
SALES = "Sales"
WARNING = "Early warning"
LEADERBOARD = "Leaderboard"

# One metric per block reads better than one argument per line.
# fmt: off
METRICS: tuple[Metric, ...] = (
    # Clients and revenue
    Metric("active_clients", "Active clients", CLIENTS, COUNT, WIDE_AM, True,
           "Clients with an engagement covering the as-of date.", account_managers_only=True),
    Metric("mrr", "MRR", CLIENTS, MONEY, WIDE_AM_CLIENT, True,
           "Monthly recurring revenue: the sum of the monthly fees of the engagements covering "
           "the as-of date.", account_managers_only=True),
    Metric("retention_rate", "Retention", CLIENTS, PERCENT, WIDE_AM, True,
           "The share of the clients active on the period's first day that are still active on "
           "its last: (E - N) / S x 100, where S = clients active at the start, E = at the end, "
           "N = active at the end but not at the start (new or returned). A client active on "
           "both days with a gap between counts as retained. Empty when S is 0.",
           account_managers_only=True),
    Metric("churn_rate", "Churn", CLIENTS, PERCENT, WIDE_AM, False,
           "100 minus retention: the share of the starting clients lost by the period's end.",
           account_managers_only=True),
    Metric("clients_acquired", "Clients acquired", CLIENTS, COUNT, WIDE_AM, True,
           "Clients active at the period's end that were not active at its start (new or "
           "returned).", account_managers_only=True),
    Metric("clients_lost", "Clients lost", CLIENTS, COUNT, WIDE_AM, False,
           "Clients active at the period's start and not at its end.",
           account_managers_only=True),
    Metric("nrr", "Net revenue retention", CLIENTS, PERCENT, WIDE_AM, True,
           "End-of-period MRR of the clients active at the start, divided by their MRR at the "
           "start, x 100. Fee increases lift it above 100.", account_managers_only=True),
    Metric("grr", "Gross revenue retention", CLIENTS, PERCENT, WIDE_AM, True,
           "Like net revenue retention, with each client's end MRR capped at its start MRR: "
           "only losses and decreases count.", account_managers_only=True),
    Metric("arpa", "Average revenue per account", CLIENTS, MONEY, WIDE_AM, True,
           "MRR divided by active clients.", account_managers_only=True),
    Metric("avg_lifetime_months", "Average client lifetime", CLIENTS, MONTHS, WIDE_AM, True,
           "Over former clients (once active, not active on the as-of date): the days their "
           "engagements covered, counted inclusively, divided by 30.4375, averaged.",
           account_managers_only=True),
    Metric("clv", "Client lifetime value", CLIENTS, MONEY, WIDE_AM, True,
           "Average revenue per account x average client lifetime in months.",
           account_managers_only=True),
    # Communication
    Metric("days_inactive", "Days inactive", COMMUNICATION, DAYS, _levels(CLIENT), False,
           "Days since the client last heard from us: the as-of date minus the later of the "
           "last counting touchpoint (any outbound touchpoint, and every call or meeting "
           "whoever started it) and the start of the current service period."),
    Metric("avg_days_inactive", "Average days inactive", COMMUNICATION, DAYS, WIDE_AM, False,
           "Mean days inactive over active clients.", account_managers_only=True),
    Metric("max_days_inactive", "Most days inactive", COMMUNICATION, DAYS, WIDE_AM, False,
           "The highest days inactive among active clients.", account_managers_only=True),
    Metric("sla_breaches", "SLA breaches", COMMUNICATION, COUNT, WIDE_AM, False,
           "Active clients with more days inactive than the service standard (SLA days, "
           "default 10; exactly 10 is not a breach).", account_managers_only=True),
    # Deadlines
    Metric("tasks_due", "Tasks due", DEADLINES, COUNT, EVERY, None,
           "Tasks whose committed due date is in the period and on or before the as-of date."),
    Metric("tasks_missed", "Tasks missed", DEADLINES, COUNT, EVERY, False,
           "Due tasks completed after their committed due date, or still open after it (a task "
           "due today and still open is not missed yet)."),
    Metric("deadline_miss_rate", "Deadline miss rate", DEADLINES, PERCENT, EVERY, False,
           "Tasks missed / tasks due x 100."),
    Metric("tasks_undated", "Undated tasks", DEADLINES, COUNT, EVERY, False,
           "Tasks created in the period that have no due date."),
    Metric("postponements", "Postponements", DEADLINES, COUNT, EVERY, None,
           "Approved postponements with their approval date in the period (shifting "
           "priorities)."),
    Metric("postponed_days", "Postponed days", DEADLINES, DAYS, EVERY, False,
           "Days those postponements added (to date minus from date, summed)."),
    Metric("unapproved_deadline_changes", "Unapproved deadline changes", DEADLINES, COUNT, EVERY,
           False, "Due-date edits made in the source (such as Asana) during the period that no "
           "approved postponement to the same date covers; they never move the committed date."),
    Metric("possible_recreations", "Possible recreations", DEADLINES, COUNT, EVERY, False,
           "Tasks created in the period with the same name (ignoring case and spacing) as a "
           "missed task of the same client, after that task's committed due date: a new task "
           "that may hide a missed one."),
    # Goals
    Metric("weekly_goals_set", "Weekly goals set", GOALS, COUNT, EVERY, True,
           "Weekly goals of the weeks that start in the period and have ended."),
    Metric("weekly_goals_met", "Weekly goals met", GOALS, COUNT, EVERY, True,
           "Of those, the goals closed as met."),
    Metric("weekly_goal_completion_rate", "Weekly goal completion", GOALS, PERCENT, EVERY, True,
           "Weekly goals met / set x 100; a goal still open after its week counts as not met."),
    Metric("client_weeks_without_goals", "Client weeks without goals", GOALS, COUNT,
           WIDE_AM_CLIENT, False,
           "Ended weeks of the period in which a client, active on the week's Monday, had no "
           "weekly goal.", account_managers_only=True),
    Metric("goals_on_track", "Goals on track", GOALS, COUNT, WIDE_AM_CLIENT, True,
           "Open client goals whose progress ((current - baseline) / (target - baseline)) is at "
           "least the time elapsed ((D - start) / (due - start)).", account_managers_only=True),
    Metric("goals_at_risk", "Goals at risk", GOALS, COUNT, WIDE_AM_CLIENT, False,
           "Open client goals behind pace by at most the at-risk margin (default 0.25).",
           account_managers_only=True),
    Metric("goals_off_track", "Goals off track", GOALS, COUNT, WIDE_AM_CLIENT, False,
           "Open client goals further behind pace than the at-risk margin.",
           account_managers_only=True),
    # Tactics and tests
    Metric("tactic_wins", "Tactic wins", TACTICS, COUNT, EVERY, True,
           "Tactics and CRO tests that ended in the period as wins."),
    Metric("tactic_losses", "Tactic losses", TACTICS, COUNT, EVERY, False,
           "Tactics and CRO tests that ended in the period as losses."),
    Metric("tactic_inconclusive", "Inconclusive tactics", TACTICS, COUNT, EVERY, None,
           "Tactics and CRO tests that ended in the period without a clear result."),
    Metric("tactic_win_rate", "Tactic win rate", TACTICS, PERCENT, EVERY, True,
           "Wins / (wins + losses) x 100 over tactics that ended in the period."),
    Metric("win_loss_ratio", "Win/loss ratio", TACTICS, NUMBER, EVERY, True,
           "Wins / losses; empty when there were no losses."),
    Metric("cro_wins", "CRO test wins", TACTICS, COUNT, EVERY, True,
           "CRO tests that ended in the period as wins."),
    Metric("cro_losses", "CRO test losses", TACTICS, COUNT, EVERY, False,
           "CRO tests that ended in the period as losses."),
    Metric("cro_inconclusive", "Inconclusive CRO tests", TACTICS, COUNT, EVERY, None,
           "CRO tests that ended in the period without a clear result."),
    Metric("cro_win_rate", "CRO win rate", TACTICS, PERCENT, EVERY, True,
           "CRO wins / (wins + losses) x 100."),
    Metric("cro_by_confidence", "CRO tests by confidence", TACTICS, BUCKETS, EVERY, None,
           "CRO tests grouped by statistical confidence (>=99, 95-99, 90-95, <90), each with "
           "wins, losses, inconclusive and win rate; a test with no confidence is in no bucket."),
    # People
    Metric("training_completion_rate", "Training completion", PEOPLE_GROUP, PERCENT, PEOPLE,
           True, "Required modules passed / required modules x 100 over active staff, by each "
           "person's latest result per module. A module is required for a person when it is "
           "marked required and belongs to their department or to none."),
    Metric("avg_training_score", "Average training score", PEOPLE_GROUP, SCORE, PEOPLE, True,
           "Mean of active staff's latest scores, all modules."),
    Metric("clients_per_am", "Clients per account manager", PEOPLE_GROUP, NUMBER, WIDE_AM, None,
           "For an account manager, the active clients they manage; for a pod, department or "
           "the agency, its active clients / its active account managers.",
           account_managers_only=True),
    Metric("over_capacity", "Over capacity", PEOPLE_GROUP, FLAG, _levels(STAFF), False,
           "An account manager with more active clients than the span of control allows (max "
           "clients per account manager, default 12).", account_managers_only=True),
    Metric("ams_over_capacity", "Account managers over capacity", PEOPLE_GROUP, COUNT, WIDE,
           False, "Account managers over capacity in the pod, department or agency."),
    # Sales
    Metric("deals_won", "Deals won", SALES, COUNT, PEOPLE, True, "Deals won in the period."),
    Metric("deals_lost", "Deals lost", SALES, COUNT, PEOPLE, False, "Deals lost in the period."),
    Metric("deal_win_rate", "Deal win rate", SALES, PERCENT, PEOPLE, True,
           "Won / (won + lost) x 100 over deals closed in the period."),
    Metric("revenue_won", "Revenue won", SALES, MONEY, PEOPLE, True,
           "Sum of the amounts of deals won in the period."),
    # Early warning
    Metric("risk_score", "Risk score", WARNING, SCORE, _levels(CLIENT), False,
           "0-100: the sum of the weights of the risk signals that fire for an active client, "
           "capped at 100."),
    Metric("risk_signals", "Risk signals", WARNING, CODES, _levels(CLIENT), None,
           "The codes of the signals that fire: sla_breach, missed_deadlines, "
           "weekly_goals_slipping, goal_off_track, fee_decrease, tactic_losing_streak, "
           "onboarding."),
    Metric("risk_reasons", "Risk reasons", WARNING, TEXTS, _levels(CLIENT), None,
           "Each firing signal in words, with its figure."),
    # Leaderboard
    Metric("leaderboard_score", "Leaderboard score", LEADERBOARD, SCORE, _levels(STAFF), True,
           "100 x the weighted mean of the person's KPI attainments (fact / target when higher "
           "is better, target / fact when lower is better, clamped to 0-1.5), skipping KPIs "
           "with no fact."),
    Metric("leaderboard_rank", "Leaderboard rank", LEADERBOARD, COUNT, _levels(STAFF), False,
           "Rank among people of the same role by score, 1 the highest; equal scores share "
           "a rank."),
    Metric("leaderboard_parts", "Leaderboard parts", LEADERBOARD, PARTS, _levels(STAFF), None,
           "Per KPI: fact, target, direction, attainment and weight."),
)
# fmt: on

BY_KEY = {metric.key: metric for metric in METRICS}
