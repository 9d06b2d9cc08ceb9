from __future__ import annotations

from django.urls import path

from apps.console.consumers import SshConsumer

websocket_urlpatterns = [
    path("apps/<str:name>/ssh/ws", SshConsumer.as_asgi(), name="ssh-ws"),
]
