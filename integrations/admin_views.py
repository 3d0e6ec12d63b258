"""The admin's "Import agency bundle" page."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from .bundle.columns import FILES
from .bundle.importer import import_bundle


class BundleUploadForm(forms.Form):
    bundle = forms.FileField(
        label="Bundle (.zip)",
        help_text="A .zip of the bundle's CSV files (see the format below).",
    )
    dry_run = forms.BooleanField(
        required=False, initial=True, label="Dry run: check and report, write nothing"
    )

    def clean_bundle(self):
        bundle = self.cleaned_data["bundle"]
        if not bundle.name.lower().endswith(".zip"):
            raise forms.ValidationError("Upload a .zip file of the bundle's CSV files.")
        return bundle


def import_bundle_view(request):
    """Upload a bundle; show every problem, or what was (or would be) imported."""
    if not request.user.is_superuser:
        raise PermissionDenied
    result = None
    if request.method == "POST":
        form = BundleUploadForm(request.POST, request.FILES)
        if form.is_valid():
            result = import_bundle(
                source=form.cleaned_data["bundle"],
                dry_run=form.cleaned_data["dry_run"],
                actor=request.user,
            )
            if result.ok and not result.dry_run:
                messages.success(request, "Bundle imported.")
    else:
        form = BundleUploadForm()
    context = {
        **admin.site.each_context(request),
        "title": "Import agency bundle",
        "form": form,
        "result": result,
        "files": FILES.values(),
    }
    return render(request, "admin/import_bundle.html", context)
