"""The API's error body, `{"error": {"code": ..., "message": ...}}`.

One shape for every JSON refusal, including those answered below the API
(a sign-in lockout on POST /api/token, apps.access.lockout)."""

from __future__ import annotations

from django.http import JsonResponse


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)
