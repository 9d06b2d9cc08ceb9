from django import forms


class NoteForm(forms.Form):
    body = forms.CharField(max_length=200)
