"""Forms for the work: they parse the fields; workflows.services validates the rules and the
views put a service's ValidationError back on the form (field by field)."""

from django import forms

from clients.models import ClientGoal, GoalStatus

from .models import ReviewDecision, Tactic, TacticKind, TacticOutcome, WeeklyGoal

DATE = forms.DateInput(attrs={"type": "date"})


class WeeklyGoalForm(forms.Form):
    """A goal for one client's week; `version` is the one the editor saw (optimistic lock)."""

    description = forms.CharField(
        label="Goal", max_length=WeeklyGoal._meta.get_field("description").max_length
    )
    client_goal = forms.ModelChoiceField(
        queryset=ClientGoal.objects.none(),
        required=False,
        label="Quarterly goal",
        empty_label="No quarterly goal",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, client=None, **kwargs):
        super().__init__(*args, **kwargs)
        if client is not None:
            self.fields["client_goal"].queryset = client.goals.all()


class CloseGoalForm(forms.Form):
    status = forms.ChoiceField(choices=GoalStatus.choices)
    note = forms.CharField(required=False, max_length=1000)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class DeleteGoalForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class PostponementRequestForm(forms.Form):
    to_due_on = forms.DateField(label="New due date", widget=DATE)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class PostponementDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("decline", "Decline")])
    note = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Required when declining.",
        widget=forms.TextInput,
    )


class TacticStartForm(forms.Form):
    name = forms.CharField(max_length=Tactic._meta.get_field("name").max_length)
    kind = forms.ChoiceField(choices=TacticKind.choices, initial=TacticKind.TACTIC)
    started_on = forms.DateField(label="Started", widget=DATE)


class TacticCloseForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            (value, label)
            for value, label in TacticOutcome.choices
            if value != TacticOutcome.RUNNING
        ]
    )
    ended_on = forms.DateField(label="Ended", widget=DATE)
    confidence = forms.DecimalField(
        required=False, min_value=0, max_value=100, decimal_places=2, label="Confidence (%)"
    )
    lift_pct = forms.DecimalField(required=False, max_digits=8, decimal_places=2, label="Lift (%)")


class GrowthReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=ReviewDecision.choices, widget=forms.RadioSelect)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
