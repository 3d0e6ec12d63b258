"""Word lists the demo agency is made of: people, companies, goals, tasks, tactics, training.

Everything here is plain data (tuples, never sets, so that iteration order is fixed and a seed
always gives the same agency).
"""


def words(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of a text block, in order."""
    return tuple(text.split())


AGENCY_NAME = "Northwind Performance Marketing"
EMAIL_DOMAIN = "demo-agency.test"

FIRST_NAMES = words(
    """
    Aaron Abigail Adam Aisha Alex Alice Amara Amir Ana Andre Anna Ben Bianca Caleb Camila
    Carlos Chloe Chris Clara Daniel David Diana Diego Eli Elena Emily Emma Ethan Fatima Felix
    Fiona Gabriel Grace Hannah Hassan Helen Ian Imani Isaac Isabel Jack Jade James Jasmine
    Javier Jenna Jonah Julia Kai Karen Kenji Laura Leah Leo Liam Lucas Lucy Maya Marcus Maria
    Mateo Megan Mia Michael Nadia Naomi Nathan Nina Noah Olivia Omar Oscar Paul Priya Rachel
    Rafael Rosa Ryan Samir Sara Sean Sofia Stella Tariq Theo Tom Vera Victor Yara Zoe
    """
)

LAST_NAMES = words(
    """
    Adams Ahmed Alvarez Anderson Baker Bennett Brooks Campbell Carter Chen Clarke Collins
    Cooper Costa Cruz Davies Diaz Edwards Evans Fischer Flores Foster Garcia Gray Green Hall
    Hansen Harris Hayes Hughes Ito Jensen Johnson Kaur Kelly Khan Kim Klein Lee Lewis Lopez
    Martin Mendes Miller Mitchell Moore Morgan Murphy Nakamura Nguyen Novak Okafor Olsen Ortiz
    Owens Park Patel Perez Peters Price Quinn Ramos Reed Reyes Richter Rivera Roberts Rossi
    Russell Santos Schmidt Scott Shah Silva Singh Sullivan Tanaka Taylor Thompson Turner
    Walker Ward Watson Weber White Williams Wong Wright Young Zhang
    """
)

COMPANY_PREFIXES = words(
    """
    Acorn Alder Apex Arbor Aspen Bayside Beacon Birchwood Bluebird Boulder Brightline Broadway
    Canyon Cardinal Cedar Clearwater Cobalt Copper Crescent Crown Driftwood Eastside Evergreen
    Fairview Foxglove Granite Greenfield Harbor Hearth Highland Horizon Ironwood Juniper
    Keystone Lakeshore Landmark Lantern Liberty Maple Meadow Meridian Metro Millstone
    Northgate Oakridge Orchard Pacific Parkside Peak Pinecrest Prairie Redwood Ridgeline
    Riverside Rockwell Sagebrush Silverleaf Skyline Southpoint Stonebridge Summit Sunrise
    Tidewater Timberline Trailhead Union Valley Westbrook Willow
    """
)

# Industry -> (share of clients, company-name endings, goal templates that fit it).
INDUSTRIES = {
    "E-commerce": (
        22,
        (
            "Outfitters",
            "Goods",
            "Supply Co.",
            "Apparel",
            "Home",
            "Pet Co.",
            "Coffee Roasters",
            "Skincare",
            "Bike Shop",
            "Kitchenware",
        ),
        ("roas", "revenue", "cpa", "conversion_rate"),
    ),
    "SaaS": (
        12,
        ("Software", "Labs", "Cloud", "Analytics", "HQ", "Systems", "Platform", "Data"),
        ("trials", "cpl", "conversion_rate", "cpa"),
    ),
    "Legal": (
        10,
        ("Law Group", "Legal", "Injury Lawyers", "Law Firm", "Family Law", "Attorneys"),
        ("leads", "cpl"),
    ),
    "Dental": (
        10,
        ("Dental", "Family Dentistry", "Orthodontics", "Smile Studio", "Dental Care"),
        ("appointments", "cpl", "cpa"),
    ),
    "Home services": (
        14,
        (
            "Plumbing",
            "Roofing",
            "HVAC",
            "Home Services",
            "Electric",
            "Landscaping",
            "Pest Control",
            "Garage Doors",
        ),
        ("leads", "cpl", "calls"),
    ),
    "Healthcare": (
        8,
        ("Physical Therapy", "Dermatology", "Wellness Clinic", "Chiropractic", "Eye Care"),
        ("appointments", "cpl"),
    ),
    "Real estate": (6, ("Realty", "Properties", "Homes", "Real Estate Group"), ("leads", "cpl")),
    "Education": (
        5,
        ("Academy", "Learning", "Language School", "Tutoring"),
        ("leads", "cpa", "trials"),
    ),
    "Automotive": (
        5,
        ("Motors", "Auto Repair", "Tire & Service", "Auto Group"),
        ("leads", "calls", "cpl"),
    ),
    "Hospitality": (4, ("Hotel", "Inn & Suites", "Resort", "Bistro"), ("revenue", "roas", "cpa")),
    "Financial services": (
        4,
        ("Financial", "Wealth Partners", "Mortgage", "Insurance"),
        ("leads", "cpl", "cpa"),
    ),
}

# Goal template -> (title, metric, lower is better, baseline range, relative change range,
# decimals).
GOAL_TEMPLATES = {
    "cpa": ("Lower cost per acquisition", "CPA ($)", True, (35, 180), (0.12, 0.30), 2),
    "cpl": ("Lower cost per lead", "CPL ($)", True, (18, 95), (0.12, 0.30), 2),
    "roas": ("Grow return on ad spend", "ROAS", False, (1.8, 4.5), (0.12, 0.35), 2),
    "revenue": (
        "Grow monthly revenue from ads",
        "Revenue ($)",
        False,
        (18000, 380000),
        (0.10, 0.30),
        0,
    ),
    "conversion_rate": (
        "Raise landing page conversion rate",
        "Conversion rate (%)",
        False,
        (1.2, 5.0),
        (0.15, 0.40),
        2,
    ),
    "leads": ("Grow qualified leads", "Leads / month", False, (25, 400), (0.15, 0.45), 0),
    "appointments": (
        "Grow booked appointments",
        "Appointments / month",
        False,
        (20, 220),
        (0.15, 0.40),
        0,
    ),
    "calls": ("Grow inbound calls from ads", "Calls / month", False, (30, 300), (0.15, 0.40), 0),
    "trials": ("Grow trial sign-ups", "Trials / month", False, (40, 600), (0.15, 0.45), 0),
}

CAMPAIGNS = (
    "spring sale",
    "brand",
    "Black Friday",
    "summer promo",
    "new location",
    "webinar",
    "free trial",
    "back to school",
    "holiday gifts",
    "clearance",
    "referral program",
    "product launch",
    "retargeting",
    "local services",
)
PAGES = (
    "checkout",
    "pricing page",
    "homepage",
    "contact form",
    "booking page",
    "product page",
    "quote form",
    "signup flow",
)
PLATFORMS = ("Google Ads", "Meta", "LinkedIn", "Microsoft Ads", "TikTok", "YouTube")

# Task names by who does them and how often; {placeholders} are filled from the lists above.
WEEKLY_TASKS = {
    "account_manager": (
        "Bid and budget review",
        "Search terms review and negatives",
        "Budget pacing check",
        "Weekly KPI snapshot",
        "Ad copy performance check",
    ),
    "designer": ("Creative performance check",),
}
MONTHLY_TASKS = {
    "account_manager": (
        "Monthly performance report",
        "Budget reforecast",
        "Audience list refresh",
        "Competitor ad review",
        "Account health audit",
    ),
    "designer": ("Ad creative refresh", "Landing page heatmap review"),
}
ONE_OFF_TASKS = {
    "account_manager": (
        "Audit conversion tracking on the {page}",
        "Set up {platform} remarketing",
        "Build the {campaign} campaign",
        "Restructure {campaign} ad groups",
        "Write ad copy for {campaign}",
        "Set up offline conversion import",
        "Fix Merchant Center feed errors",
        "Launch {platform} lead form test",
    ),
    "designer": (
        "Design landing page for {campaign}",
        "CRO test setup: {page}",
        "Banner set for {campaign}",
        "Mockups for the {page} redesign",
        "Video ad storyboard for {campaign}",
    ),
}

WEEKLY_GOALS = (
    "Launch {n} new responsive search ads",
    "Add {n}0 negative keywords from search terms",
    "Ship the landing page test on the {page}",
    "Move budget toward the top {n} campaigns",
    "Fix conversion tracking on the {page}",
    "Send the report and book the review call",
    "Refresh Performance Max asset groups",
    "Build a remarketing audience from {page} visitors",
    "Get client sign-off on the {campaign} ad copy",
    "Cut brand CPC by {n}%",
    "Launch the {campaign} campaign",
    "Pause the {n} worst ad groups",
)
WEEKLY_GOAL_MISSED_NOTES = (
    "Client approval came too late.",
    "Client paused the budget this week.",
    "Tracking fix needs their developer; waiting.",
    "Ran out of time: two urgent requests.",
    "Creative not ready.",
    "Postponed to next week after the client call.",
)

TOUCHPOINT_SUMMARIES = {
    ("call", "outbound"): (
        "Weekly check-in call",
        "Call about budget pacing",
        "Walked through last week's results",
    ),
    ("call", "inbound"): ("Client called about lead quality", "Client called about invoices"),
    ("meeting", "outbound"): (
        "Monthly performance review",
        "Quarterly goal planning",
        "Strategy workshop",
    ),
    ("meeting", "inbound"): ("Client asked for a review meeting",),
    ("email", "outbound"): (
        "Sent campaign update",
        "Shared new ad copy for approval",
        "Answered questions on the report",
    ),
    ("email", "inbound"): (
        "Client asked about cost per lead",
        "Client sent new promo dates",
        "Client asked for a budget change",
    ),
    ("chat", "outbound"): ("Slack: weekend budget heads-up", "Slack: test results preview"),
    ("chat", "inbound"): ("Slack: client question on a new product", "Slack: client feedback"),
    ("report", "outbound"): ("Monthly report sent", "Weekly KPI snapshot sent"),
}

TACTICS = (
    "Switch {campaign} to target ROAS bidding",
    "Launch Performance Max for {campaign}",
    "Add call extensions on mobile",
    "Broad match with smart bidding on {campaign}",
    "Dayparting: pause overnight spend",
    "{platform} remarketing to site visitors",
    "Lead form extensions on {campaign}",
    "Geo bid boost around the new location",
    "Split brand and non-brand budgets",
    "Value-based bidding with offline conversions",
)
CRO_TESTS = (
    "{page}: shorter form",
    "{page}: benefit-led headline",
    "{page}: trust badges above the fold",
    "{page}: reviews next to the call to action",
    "{page}: one step instead of three",
    "{page}: sticky call button on mobile",
    "{page}: price anchoring",
    "{page}: live chat prompt",
)

# (name, department key or None for everyone, required, pass score)
TRAINING_MODULES = (
    ("The Northwind way of working", None, True, 80),
    ("Client expectation agreement", None, True, 80),
    ("Security and client data", None, True, 90),
    ("Google Ads fundamentals", "account-management", True, 75),
    ("Weekly goal planning", "account-management", True, 80),
    ("Reporting standards", "account-management", True, 75),
    ("Advanced bidding strategies", "account-management", False, 70),
    ("CRO testing and statistics", "design-cro", True, 80),
    ("Landing page design system", "design-cro", True, 75),
    ("Motion for ads", "design-cro", False, 70),
    ("Discovery calls", "sales", True, 75),
    ("Proposal writing", "sales", True, 75),
    ("Leading through metrics", "leadership", False, 70),
)

DEAL_SERVICES = (
    "PPC management",
    "Paid social",
    "CRO program",
    "Google Ads audit",
    "Shopping feeds",
    "Paid search and landing pages",
)
ADD_ON_SERVICES = ("add-on: paid social", "add-on: CRO program", "add-on: YouTube ads")

# Spelled out here rather than taken from strftime, whose month names follow the locale.
MONTH_NAMES = words(
    """
    January February March April May June July August September October November December
    """
)

POD_NAMES = (
    "Atlas",
    "Beacon",
    "Compass",
    "Delta",
    "Ember",
    "Falcon",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Nova",
    "Orion",
    "Pioneer",
    "Quartz",
    "Redwood",
    "Sierra",
    "Tidal",
    "Umber",
    "Vertex",
    "Willow",
    "Yukon",
    "Zephyr",
)
