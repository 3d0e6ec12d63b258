"""Endpoints that outside services call: Asana's webhook deliveries."""

from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.asana import webhooks
from integrations.models import AsanaWebhook


@csrf_exempt  # Asana cannot send a CSRF token; the HMAC signature authenticates instead.
@require_POST
def asana_webhook(request, pk: int):
    """Asana's handshake and deliveries for one of our webhooks (looked up by our pk, which
    exists before Asana knows the hook's gid). Answers at once; the work is queued."""
    hook = get_object_or_404(AsanaWebhook, pk=pk)
    try:
        body = request.body
    except RequestDataTooBig:
        return _reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {})
    status, headers = webhooks.receive(hook, request.headers, body)
    return _reply(status, headers)


def _reply(status: int, headers: dict[str, str]) -> HttpResponse:
    # The status phrase only: never the body we were sent, never the secret (except the
    # handshake echo, which is a header).
    return HttpResponse(
        HTTPStatus(status).phrase,
        status=status,
        headers=headers,
        content_type="text/plain; charset=utf-8",
    )
