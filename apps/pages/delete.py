"""Delete an app, as App Service's Overview does: a page that says what goes
and what stays, and asks for the app's name before anything is removed.

Only an Owner may delete (apps.access: manage_access). The work is
apps.deployments.teardown.delete_app's, the same function the API and the CLI
call; it records the deletion in the audit history. When it cannot finish
(the engine is down, a file will not go), the app is left stopped with its
rows, and this page says what was left and that deleting again finishes.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.access.services import MANAGE_ACCESS, app_for
from apps.deployments import gitrepo, teardown
from apps.deployments.models import Deployment
from apps.lifecycle import storage
from apps.webapps.models import WebApp

# Names the refused action in the 403 page's reason (apps.access.services.refusal).
WHAT = "Deleting the app"


class DeleteAppForm(forms.Form):
    name = forms.CharField(
        label="The app's name",
        max_length=200,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}
        ),
    )

    def __init__(self, *args, app: WebApp, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        self.fields["name"].error_messages["required"] = (
            f"Type {app.name} to confirm: nothing was deleted."
        )

    def clean_name(self) -> str:
        typed = self.cleaned_data["name"]
        if typed != self.app.name:
            raise ValidationError(
                f"“{typed}” is not this app's name: type {self.app.name} exactly "
                "(nothing was deleted)."
            )
        return typed


@dataclass(frozen=True)
class Removal:
    """One line of "what will be removed"."""

    what: str
    detail: str


def what_goes(app: WebApp) -> list[Removal]:
    """What delete_app removes (apps.deployments.teardown, then the rows), in
    the words of App Service and with this app's numbers; read from the
    database, and the engine for the size of /home (the page still answers,
    "size unknown", when the engine does not)."""
    deployments = Deployment.objects.filter(app=app).count()
    settings = app.app_settings.count()
    strings = app.connection_strings.count()
    grants = app.role_assignments.count()
    return [
        Removal(
            "Containers",
            "the one serving the site (which stops answering), older and build containers, "
            "its own network and its route in the front proxy",
        ),
        Removal(
            "Persistent storage (/home)",
            f"the volume {storage.usage(app).describe()}: everything the app wrote under /home, "
            "its files in /home/site/wwwroot (a SQLite database, uploads) included",
        ),
        Removal(
            "Release images",
            f"every {teardown.release_repository(app)}:* image, and volumes made for the app",
        ),
        Removal("Logs archive", "the application logs kept across restarts"),
        Removal(
            "Deployments history",
            f"{deployments} deployment, with its build log and the zip kept for redeploy"
            if deployments == 1
            else f"{deployments} deployments, with their build logs and the zips kept for redeploy",
        ),
        Removal(
            "Git repository",
            "the Local Git repository"
            + ("" if gitrepo.repo_path(app).exists() else " (none was created)"),
        ),
        Removal(
            "Settings",
            f"{settings} application setting{'' if settings == 1 else 's'}, "
            f"{strings} connection string{'' if strings == 1 else 's'}, general settings, "
            f"publishing credentials and {grants} role assignment{'' if grants == 1 else 's'} "
            "on the app",
        ),
    ]


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, name: str) -> HttpResponse:
    app = app_for(request.user, name, MANAGE_ACCESS, what=WHAT)
    form = DeleteAppForm(request.POST if request.method == "POST" else None, app=app)
    status = 200
    failure = ""
    if form.is_bound:
        if form.is_valid():
            try:
                teardown.delete_app(app, actor=request.user)
            except teardown.DeleteFailed as e:
                failure = e.message
                status = 503
                app.refresh_from_db()  # stopped now
            else:
                messages.success(
                    request,
                    f"Deleted {name}: its containers, release images, logs archive, deployments "
                    "history, Git repository and settings are gone. Its audit history is kept.",
                )
                return redirect("webapps:list")
        else:
            status = 400
    ctx = {
        "app": app,
        "nav": "overview",
        "form": form,
        "removals": what_goes(app),
        "failure": failure,
    }
    return render(request, "webapps/delete.html", ctx, status=status)
