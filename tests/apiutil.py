"""Fixtures shared by the API tests (tests/test_api_*.py import them)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.api.models import ApiToken


class ApiClient:
    """Django's test client speaking JSON with a bearer token."""

    def __init__(self, token: str = "") -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _call(self, method: str, path: str, body=None, **kwargs):
        if body is not None:
            kwargs.setdefault("content_type", "application/json")
            kwargs["data"] = json.dumps(body)
        return getattr(self.client, method)(path, headers=self.headers, **kwargs)

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=self.headers, **kwargs)

    def put(self, path: str, body=None, **kwargs):
        return self._call("put", path, body, **kwargs)

    def patch(self, path: str, body=None, **kwargs):
        return self._call("patch", path, body, **kwargs)

    def post(self, path: str, body=None, **kwargs):
        return self._call("post", path, body, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.client.delete(path, headers=self.headers, **kwargs)


@pytest.fixture
def alice_token(alice) -> str:
    _, token = ApiToken.objects.create_for(alice, "tests")
    return token


@pytest.fixture
def api(alice_token) -> ApiClient:
    return ApiClient(alice_token)


@pytest.fixture
def bob_api(bob) -> ApiClient:
    _, token = ApiToken.objects.create_for(bob, "tests")
    return ApiClient(token)


def error_code(response) -> str:
    return response.json()["error"]["code"]
