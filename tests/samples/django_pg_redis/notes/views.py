from django.core.cache import cache
from django.db import connection
from django.shortcuts import redirect, render

from notes.forms import NoteForm
from notes.models import Note


def index(request):
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        Note.objects.create(body=form.cleaned_data["body"])
        return redirect("index")
    visits = cache.get_or_set("visits", 0)
    cache.incr("visits")
    connection.ensure_connection()
    context = {
        "form": form,
        "notes": Note.objects.order_by("id"),
        "visits": visits + 1,
        "database": connection.settings_dict["ENGINE"],
        "tls": bool(connection.connection.info.pgconn.ssl_in_use),
    }
    return render(request, "notes/index.html", context)
