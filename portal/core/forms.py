"""What every portal form shares."""

from __future__ import annotations

from typing import Any

from django import forms


class UntruncatedForm(forms.Form):
    """A form whose inputs carry no `maxlength`: a browser cuts a longer value silently (typed or pasted), so the
    field's own validation answers instead, saying how long the value is and how long it may be."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("maxlength", None)
