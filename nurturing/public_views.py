"""The only pages without login: the open pixel, the click redirect and unsubscribe. Each takes a
signed token; a forged, tampered or unknown one is the site's plain 404, whatever was wrong."""

from __future__ import annotations

import base64

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from nurturing import tracking

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@login_not_required
@never_cache
@require_GET
def open_pixel(request, token):
    message, _ = tracking.message_for(token, tracking.OPEN_SALT)
    tracking.message_opened(message=message)
    return HttpResponse(PIXEL, content_type="image/gif")


@login_not_required
@never_cache
@require_GET
def click(request, token):
    """Redirect to the link's target: only a URL contained in that message (never an open redirect)."""
    message, payload = tracking.message_for(token, tracking.CLICK_SALT)
    url = payload.get("u")
    tracking.message_clicked(message=message, url=url if isinstance(url, str) else "")
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_not_required
@never_cache
@csrf_exempt  # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" with no session or token
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET asks for confirmation (link scanners must not unsubscribe anyone); POST unsubscribes."""
    message, _ = tracking.message_for(token, tracking.UNSUBSCRIBE_SALT)
    done = request.method == "POST"
    if done:
        tracking.lead_unsubscribe(lead=message.lead, message=message)
    context = {"done": done, "sender": message.sequence.sender_name or message.company.name}
    return render(request, "nurturing/unsubscribe.html", context)
