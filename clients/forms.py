"""Forms for writes about clients: they parse the fields; clients.services validates."""

from django import forms

from .models import Channel, Direction, Touchpoint


class TouchpointForm(forms.Form):
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.CALL)
    occurred_on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    direction = forms.ChoiceField(
        choices=Direction.choices, initial=Direction.OUTBOUND, label="Who started it"
    )
    summary = forms.CharField(
        label="Note",
        required=False,
        max_length=Touchpoint._meta.get_field("summary").max_length,
    )
