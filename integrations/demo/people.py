"""The demo agency's people: departments, pods, staff with their logins, and their training."""

import dataclasses
import datetime
import math

from django.contrib.auth import get_user_model

from godview.models import Department, Pod, Role, Staff
from workflows.models import TrainingModule, TrainingResult

from . import vocabulary
from .base import DAY, Writer, random_day, rng_for

DEPARTMENTS = (
    ("account-management", "Account management"),
    ("design-cro", "Design/CRO"),
    ("sales", "Sales"),
    ("leadership", "Leadership"),
)

# The three fixed demo logins: role -> username (also the staff member's email).
DEMO_LOGINS = {
    Role.LEADERSHIP: f"leader@{vocabulary.EMAIL_DOMAIN}",
    Role.DIRECTOR: f"director@{vocabulary.EMAIL_DOMAIN}",
    Role.ACCOUNT_MANAGER: f"am@{vocabulary.EMAIL_DOMAIN}",
}

CLIENTS_PER_POD = 26  # two account managers at about 13 clients each


@dataclasses.dataclass
class Team:
    """A pod and its people as the generator uses them."""

    pod: Pod
    account_managers: list[Staff]
    designer: Staff
    director: Staff  # approves the pod's postponements
    former_members: list[Staff] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Agency:
    """Everyone at the agency plus the traits the rest of the generator draws on."""

    seed: int
    today: datetime.date
    history_start: datetime.date
    zone: datetime.tzinfo
    departments: dict[str, Department]
    teams: list[Team]
    directors: list[Staff]
    design_director: Staff
    sales: list[Staff]  # former sales people included: they own older deals
    staff: list[Staff]
    # Staff key -> the day a former member left (their last day).
    left_on: dict[str, datetime.date]
    # Staff key -> how much likelier than usual this person is to miss a deadline.
    lateness: dict[str, float]
    # Account manager key -> relative share of the clients they get.
    client_share: dict[str, float]

    def works_on(self, member: Staff, day: datetime.date) -> bool:
        """Whether the person was at the agency on that day."""
        started = member.started_on is None or member.started_on <= day
        return started and day <= self.left_on.get(member.key, self.today)


class _Hiring:
    """Makes staff members with unique realistic names, their emails and auth users."""

    def __init__(self, rng, agency_departments: dict[str, Department]):
        self.rng = rng
        self.departments = agency_departments
        self.taken_names: set[tuple[str, str]] = set()
        self.users = []
        self.staff: list[Staff] = []

    def hire(self, role, department, *, started_on, pod=None, active=True, email=None) -> Staff:
        while True:
            first = self.rng.choice(vocabulary.FIRST_NAMES)
            last = self.rng.choice(vocabulary.LAST_NAMES)
            if (first, last) not in self.taken_names:
                break
        self.taken_names.add((first, last))
        email = email or f"{first}.{last}@{vocabulary.EMAIL_DOMAIN}".lower()
        user = get_user_model()(
            username=email.lower(),
            email=email,
            first_name=first,
            last_name=last,
            is_active=active,
        )
        user.set_unusable_password()
        if role == Role.LEADERSHIP and email == DEMO_LOGINS[Role.LEADERSHIP]:
            user.is_staff = user.is_superuser = True
        member = Staff(
            key=f"demo-staff-{len(self.staff) + 1:04d}",
            user=user,
            name=f"{first} {last}",
            email=email,
            role=role,
            department=self.departments[department],
            pod=pod,
            active=active,
            started_on=started_on,
        )
        self.users.append(user)
        self.staff.append(member)
        return member


def build_people(*, writer: Writer, seed: int, clients: int, today, history_start, zone) -> Agency:
    """Create departments, pods (one per ~26 clients), directors, leadership, sales, a few
    former staff and the three demo logins; every user starts with an unusable password."""
    rng = rng_for(seed, "people")
    departments = {key: Department(key=f"demo-dept-{key}", name=name) for key, name in DEPARTMENTS}
    writer.insert(Department, list(departments.values()))
    pod_count = max(1, round(clients / CLIENTS_PER_POD))
    pods = [
        Pod(
            key=f"demo-pod-{number + 1:02d}",
            name=f"Pod {_pod_name(number)}",
            department=departments["account-management"],
        )
        for number in range(pod_count)
    ]
    writer.insert(Pod, pods)

    hiring = _Hiring(rng, departments)

    def years_ago(low, high):
        return today - datetime.timedelta(days=rng.randint(int(low * 365), int(high * 365)))

    def before_history(low_days, high_days):
        return history_start - datetime.timedelta(days=rng.randint(low_days, high_days))

    for number in range(2 if clients < 300 else 3):
        hiring.hire(
            Role.LEADERSHIP,
            "leadership",
            started_on=years_ago(6, 10),
            email=DEMO_LOGINS[Role.LEADERSHIP] if number == 0 else None,
        )
    for _ in range(max(1, clients // 250)):
        hiring.hire(Role.OTHER, "leadership", started_on=years_ago(2, 6))
    directors = [
        hiring.hire(
            Role.DIRECTOR,
            "account-management",
            started_on=years_ago(3, 7),
            email=DEMO_LOGINS[Role.DIRECTOR] if number == 0 else None,
        )
        for number in range(math.ceil(pod_count / 4))
    ]
    design_director = hiring.hire(Role.DIRECTOR, "design-cro", started_on=years_ago(3, 7))
    sales = [
        hiring.hire(Role.SALES, "sales", started_on=before_history(30, 1200))
        for _ in range(max(2, round(clients / 80)))
    ]

    teams = []
    for number, pod in enumerate(pods):
        account_managers = [
            hiring.hire(
                Role.ACCOUNT_MANAGER,
                "account-management",
                pod=pod,
                started_on=before_history(30, 1500),
                email=DEMO_LOGINS[Role.ACCOUNT_MANAGER] if number == seat == 0 else None,
            )
            for seat in range(2)
        ]
        designer = hiring.hire(
            Role.DESIGNER, "design-cro", pod=pod, started_on=before_history(30, 1500)
        )
        director = directors[number * len(directors) // pod_count]
        teams.append(Team(pod, account_managers, designer, director))

    left_on = {}
    for number in range(max(2, pod_count // 3)):
        role = (Role.ACCOUNT_MANAGER, Role.DESIGNER, Role.SALES)[number % 3]
        team = rng.choice(teams)
        department = {Role.ACCOUNT_MANAGER: "account-management", Role.DESIGNER: "design-cro"}
        former = hiring.hire(
            role,
            department.get(role, "sales"),
            pod=None if role == Role.SALES else team.pod,
            active=False,
            started_on=before_history(200, 1200),
        )
        left_on[former.key] = random_day(rng, history_start + 60 * DAY, today - 30 * DAY)
        if role == Role.SALES:
            sales.append(former)
        else:
            team.former_members.append(former)

    writer.insert(get_user_model(), hiring.users)
    writer.insert(Staff, hiring.staff)  # bulk_create picks up the users' new primary keys

    account_managers = [am for team in teams for am in team.account_managers]
    client_share = {am.key: rng.uniform(0.7, 1.35) for am in account_managers}
    client_share[account_managers[0].key] = 1.25  # the demo AM has a full book of clients
    return Agency(
        seed=seed,
        today=today,
        history_start=history_start,
        zone=zone,
        departments=departments,
        teams=teams,
        directors=directors,
        design_director=design_director,
        sales=sales,
        staff=hiring.staff,
        left_on=left_on,
        lateness={member.key: rng.uniform(0.5, 2.2) for member in hiring.staff},
        client_share=client_share,
    )


def _pod_name(number: int) -> str:
    name = vocabulary.POD_NAMES[number % len(vocabulary.POD_NAMES)]
    lap = number // len(vocabulary.POD_NAMES)
    return f"{name} {lap + 1}" if lap else name


def build_training(*, writer: Writer, agency: Agency) -> None:
    """Training modules (required per department or for everyone, some optional) and results:
    most staff pass their required modules, some fail and retake, a few never took one."""
    modules = [
        TrainingModule(
            key=f"demo-training-{number + 1:02d}",
            name=name,
            department=agency.departments[department] if department else None,
            required=required,
            pass_score=pass_score,
        )
        for number, (name, department, required, pass_score) in enumerate(
            vocabulary.TRAINING_MODULES
        )
    ]
    writer.insert(TrainingModule, modules)
    results = []
    for member in agency.staff:
        rng = rng_for(agency.seed, "training", member.key)
        first_day = max(member.started_on, agency.history_start)
        last_day = agency.left_on.get(member.key, agency.today)
        for module in modules:
            if module.department_id not in (None, member.department_id):
                continue
            take_chance = 0.9 if module.required else 0.35
            if not member.active:
                take_chance -= 0.2
            completed_on = random_day(rng, first_day, last_day)
            if completed_on is None or rng.random() >= take_chance:
                continue
            score = min(100, max(35, round(rng.gauss(84, 9))))
            results.append(
                TrainingResult(staff=member, module=module, completed_on=completed_on, score=score)
            )
            if score < module.pass_score and rng.random() < 0.7:
                retaken_on = random_day(
                    rng, completed_on + 7 * DAY, min(completed_on + 60 * DAY, last_day)
                )
                if retaken_on is not None:
                    retake_score = min(100, max(module.pass_score - 5, round(rng.gauss(88, 6))))
                    results.append(
                        TrainingResult(
                            staff=member, module=module, completed_on=retaken_on, score=retake_score
                        )
                    )
    writer.insert(TrainingResult, results)
