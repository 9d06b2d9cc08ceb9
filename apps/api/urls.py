from __future__ import annotations

from django.urls import re_path

from apps.api.api import api
from apps.api.http import guard, not_found

# Every /api/ path, zip deploy, deployments, the log stream and diagnostics
# included (apps.api.borrowed): ninja's URL patterns, each view guarded
# (NUL characters, an Error body on 405). ninja's root pattern ("/api/") is
# left out: nothing is served there.
patterns, _, _ = api.urls
app_name = "api"
urlpatterns = [p for p in patterns if p.name != "api-root"]
for p in urlpatterns:
    p.callback = guard(p.callback)
# Anything else under /api/ is the API's 404, not the portal's page.
urlpatterns.append(re_path(r"", guard(not_found), name="not_found"))
