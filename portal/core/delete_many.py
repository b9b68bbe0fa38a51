"""Deleting several rows of one resource at once, after typing how many ("delete 3 stages"): one operation each,
followed together on one batch page. A resource declares a `DeleteMany`; core has the form, the phrase to type, the
view and the page (templates/core/delete_many.html):

    stages_delete = delete_many_view(DeleteMany(field="stages", noun="stage", choices=..., deletable=..., ...))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from portal.core.models import OperationBatch
from portal.core.permissions import MANAGE_RESOURCES
from portal.core.query import is_row_id, row_ids


@dataclass(frozen=True)
class DeleteMany:
    """What a resource declares to be deleted several at a time."""

    field: str  # the form field and query parameter carrying the chosen rows' ids, as the list's checkboxes name it
    noun: str  # one row, in the phrase to type and the headings: "stage" → "delete 3 stages"
    title: str  # the page's title
    list_url_name: str  # the resource's list, linked back to
    choices: QuerySet[Any]  # the rows the form accepts: those that may be deleted now
    deletable: Callable[[Any], bool]  # of the rows chosen, those offered for deletion (the rest are listed as kept)
    delete: Callable[[AbstractBaseUser, list[Any]], OperationBatch]  # the service: one operation per row, one batch
    at_most: int  # how many rows one request may delete
    explanation: str  # what deleting does, above the rows offered
    no_longer: str  # why a row chosen on the list is refused when the form is sent
    nothing_chosen: str  # when no chosen row can be deleted
    rows_template: str  # the resource's partials `offered` and `kept`, each showing one `row`
    ordering: tuple[str, ...] = ("name", "pk")
    permission: str = MANAGE_RESOURCES

    def nouns(self, count: int) -> str:
        """The noun for `count` rows: "stage", "stages"."""
        return ngettext(self.noun, f"{self.noun}s", count)

    def phrase(self, count: int) -> str:
        """What a person types to delete `count` rows at once: it names how many."""
        return f"delete {count} {self.nouns(count)}"

    def chosen(self, ids: list[str]) -> list[Model]:
        """The rows these ids name, whatever their state, in the declared order."""
        rows = self.choices.model.objects.filter(pk__in=row_ids(ids))
        return list(rows.order_by(*self.ordering))


class ChosenRows(forms.ModelMultipleChoiceField):
    """The rows chosen on the list, by id. A value no row's id can be is refused as a row that is no longer there,
    before any query: Django's own check lets "²" and 2**63 reach the database."""

    def clean(self, value: Any) -> QuerySet[Any]:
        if isinstance(value, list | tuple) and not all(isinstance(pk, str) and is_row_id(pk) for pk in value):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().clean(value)


class DeleteManyForm(forms.Form):
    confirm = forms.CharField(label="Type what the button says to confirm", max_length=64)

    def __init__(self, *args: Any, delete_many: DeleteMany, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delete_many = delete_many
        self.fields[delete_many.field] = ChosenRows(
            queryset=delete_many.choices,
            widget=forms.MultipleHiddenInput,
            error_messages={
                "required": f"Choose the {delete_many.noun}s to delete on the list first.",
                "invalid_choice": delete_many.no_longer,
            },
        )
        self.order_fields([delete_many.field, "confirm"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        noun, rows = self.delete_many.noun, cleaned.get(self.delete_many.field)
        if rows is None:
            return cleaned
        if len(rows) > self.delete_many.at_most:
            self.add_error(self.delete_many.field, f"At most {self.delete_many.at_most} {noun}s at once.")
        expected = self.delete_many.phrase(len(rows))
        if "confirm" in cleaned and cleaned["confirm"].strip() != expected:
            these = f"{len(rows)} {self.delete_many.nouns(len(rows))}"
            self.add_error("confirm", f"Type {expected!r} exactly to delete these {these}.")
        return cleaned


def delete_many_view(delete_many: DeleteMany) -> Callable[[HttpRequest], HttpResponse]:
    """The page that deletes the rows chosen on the resource's list, after typing how many: one operation each,
    followed on one batch page."""

    @require_http_methods(["GET", "POST"])
    @permission_required(delete_many.permission, raise_exception=True)
    def view(request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            form = DeleteManyForm(request.POST, delete_many=delete_many)
            if form.is_valid():
                batch = delete_many.delete(request.user, list(form.cleaned_data[delete_many.field]))
                return HttpResponseRedirect(reverse("operation_batch", args=[batch.pk]), status=303)
            chosen = delete_many.chosen(request.POST.getlist(delete_many.field))
        else:
            chosen = delete_many.chosen(request.GET.getlist(delete_many.field))
        deletable = [row for row in chosen if delete_many.deletable(row)]
        if request.method == "GET":
            form = DeleteManyForm(initial={delete_many.field: [row.pk for row in deletable]}, delete_many=delete_many)
        context = {
            "delete_many": delete_many,
            "form": form,
            "rows_field": form[delete_many.field],
            "deletable": deletable,
            "kept": [row for row in chosen if not delete_many.deletable(row)],
            "phrase": delete_many.phrase(len(deletable)),
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, "core/delete_many.html", context, status=status)

    return view
