from django.http import JsonResponse
from django.urls import path


def index(request):
    return JsonResponse({"framework": "django", "host": request.get_host()})


urlpatterns = [path("", index)]
