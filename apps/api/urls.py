from __future__ import annotations

from apps.api.api import api
from apps.api.http import guard

# Every /api/ path, zip deploy, deployments, the log stream and diagnostics
# included (apps.api.borrowed): ninja's URL patterns, each view guarded
# (NUL characters, an Error body on 405). ninja's root pattern ("/api/") is
# left out: nothing is served there.
patterns, _, _ = api.urls
app_name = "api"
urlpatterns = [p for p in patterns if p.name != "api-root"]
for p in urlpatterns:
    p.callback = guard(p.callback)
