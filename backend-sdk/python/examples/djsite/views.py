import hashlib

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


def hello(request):
    resp = HttpResponse("hello from django\n", content_type="text/plain; charset=utf-8")
    resp.set_cookie("seen", "yes")
    return resp


def info(request):
    return JsonResponse({
        "remote_addr": request.META["REMOTE_ADDR"],
        "session_id": request.META["nanogate.session_id"],
        "host": request.get_host(),
        "secure": request.is_secure(),
        "query": request.GET.dict(),
        "cookies": request.COOKIES,
    })


@csrf_exempt
def upload(request):
    if request.method != "POST":
        return HttpResponse("POST only\n", status=405)
    data = request.body
    return JsonResponse({"length": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                         "content_type": request.content_type}, status=201)
