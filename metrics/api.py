"""GET /api/v1/metrics: the export (DATA_FORMAT.md) over HTTP, for a personal API token.

Authentication is the `Authorization: Bearer <token>` header alone: a session cookie neither
helps nor is needed, so there is no CSRF to guard against and nothing for a browser to replay.
Every answer, errors included, is JSON.
"""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from godview.agency import agency_today
from godview.tokens import user_for_bearer

from .export import PeriodError, parse_period
from .selectors import metrics_visible_to
from .services import metrics_for

PARAMETERS = ("as_of", "start", "level")
LEVELS = ("agency", "departments", "pods", "staff", "clients")
DATES = ("as_of", "start", "end")


class ParameterError(ValueError):
    pass


def error(status: int, message: str, headers: dict | None = None) -> JsonResponse:
    return JsonResponse({"error": message}, status=status, headers=headers)


def parse_query(query) -> tuple[str | None, str | None, str | None]:
    """(as_of, start, level) as given, each at most once; level checked here, dates later."""
    unknown = sorted(name for name in query if name not in PARAMETERS)
    if unknown:
        name = unknown[0][:40]
        raise ParameterError(f"{name}: unknown parameter (use {', '.join(PARAMETERS)})")
    for name in query:
        if len(query.getlist(name)) > 1:
            raise ParameterError(f"{name}: give it once")
    level = query.get("level")
    if level is not None and level not in LEVELS:
        raise ParameterError(f"level: {level[:40]!r} is not one of {', '.join(LEVELS)}")
    return query.get("as_of"), query.get("start"), level


# CSRF protects cookie-authenticated requests; this view ignores cookies, and exempting it
# lets a POST get its honest 405 instead of a CSRF 403 page.
@csrf_exempt
@never_cache
def metrics(request):
    """The metrics the token's user may see, as of `as_of` (default: the agency's today) for
    [start (default: the quarter of as_of), as_of], optionally only one `level`."""
    if request.method != "GET":
        return error(405, f"{request.method} is not allowed; use GET.", {"Allow": "GET"})
    user = user_for_bearer(request.headers.get("Authorization"))
    if user is None:
        return error(
            401,
            "Send a valid personal API token as 'Authorization: Bearer <token>'.",
            {"WWW-Authenticate": "Bearer"},
        )
    try:
        as_of, start, level = parse_query(request.GET)
        as_of_date, start_date = parse_period(as_of=as_of, start=start, today=agency_today())
    except (ParameterError, PeriodError) as problem:
        return error(400, str(problem))
    result = metrics_visible_to(user=user, result=metrics_for(as_of=as_of_date, start=start_date))
    if level is not None:
        result = {**{name: result[name] for name in DATES}, level: result[level]}
    return JsonResponse(result, json_dumps_params={"allow_nan": False})
