"""The forms an organiser fills in to prepare a letter's delivery and to mark it delivered."""

from django import forms
from django.utils.translation import gettext_lazy as _


class PrepareDeliveryForm(forms.Form):
    addressee = forms.CharField(
        max_length=200, label=_("Delivered to"), help_text=_("Who receives the letter.")
    )
    cover_note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label=_("Cover note"),
        help_text=_("A few words printed above the letter (optional)."),
    )
    include_names = forms.BooleanField(
        required=False, initial=True, label=_("Public signers' names and details")
    )
    include_organisations = forms.BooleanField(
        required=False, initial=True, label=_("Co-signing organisations, leads first")
    )
    include_counts = forms.BooleanField(
        required=False, initial=True, label=_("Counts by level and verified employees")
    )


class MarkDeliveredForm(forms.Form):
    delivered_to = forms.CharField(max_length=200, label=_("Handed over to"))
    tell_signers = forms.BooleanField(
        required=False, label=_("Send an update to the signers who asked for updates")
    )
    subject = forms.CharField(max_length=200, required=False, label=_("Update subject"))
    body = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), label=_("Update message")
    )

    def clean(self):
        data = super().clean()
        if data.get("tell_signers") and not (data.get("subject") and data.get("body")):
            raise forms.ValidationError(
                _("An update to the signers needs a subject and a message.")
            )
        return data
