"""Every validation rule of the stage forms, with the message the user sees."""

from __future__ import annotations

import pytest

from portal.stages.filters import StageFilter
from portal.stages.forms import (
    DisconnectForm,
    IssueTokenFormSet,
    StageDeleteForm,
    StageNameForm,
    TagAddForm,
    TagFormSet,
    TokenFormSet,
)
from portal.stages.models import Stage


def _formset(cls, prefix: str, rows: list[dict[str, object]]):
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{index}-{key}"] = value
    return cls(data, prefix=prefix)


def _errors(formset) -> str:
    messages = [message for form_errors in formset.errors for field in form_errors.values() for message in field]
    return " ".join([*messages, *formset.non_form_errors()])


@pytest.mark.parametrize(
    ("name", "message"),
    [("has space", "Use only letters, digits, hyphens and underscores."), ("x" * 129, "at most 128 characters")],
)
def test_stage_names(name, message):
    form = StageNameForm({"name": name})
    assert not form.is_valid()
    assert message in str(form.errors["name"])


def test_stage_name_may_be_empty_or_valid():
    assert StageNameForm({"name": ""}).is_valid()
    assert StageNameForm({"name": "Town-hall_2"}).is_valid()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"key": "aws:team", "value": "x"}], "Tag keys starting with 'aws:' are reserved by AWS."),
        ([{"key": "AWS:team", "value": "x"}], "reserved by AWS"),
        ([{"key": "", "value": "orphan"}], "A tag needs a key."),
        ([{"key": "k" * 129, "value": "x"}], "at most 128 characters"),
        ([{"key": "k", "value": "v" * 257}], "at most 256 characters"),
        ([{"key": "k", "value": "1"}, {"key": "k", "value": "2"}], "Each tag key may appear only once."),
        ([{"key": f"k{n}", "value": "v"} for n in range(50)], "A stage takes at most 49 tags here"),
    ],
)
def test_tag_rules(rows, message):
    formset = _formset(TagFormSet, "tags", rows)
    assert not formset.is_valid()
    assert message in _errors(formset)


def test_forty_nine_tags_are_allowed():
    assert _formset(TagFormSet, "tags", [{"key": f"k{n}", "value": "v"} for n in range(49)]).is_valid()


def test_tags_are_collected_and_blank_rows_ignored():
    formset = _formset(TagFormSet, "tags", [{"key": "team", "value": "rtc"}, {"key": "", "value": ""}])
    assert formset.is_valid()
    assert formset.tags == {"team": "rtc"}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"user_id": "u" * 129, "capabilities": ["PUBLISH"]}, "at most 128 characters"),
        ({"user_id": "u", "capabilities": [], "duration": "10"}, "Choose at least one capability."),
        ({"user_id": "u", "capabilities": ["SHOUT"]}, "Select a valid choice"),
        ({"user_id": "u", "capabilities": ["PUBLISH"], "duration": "0"}, "greater than or equal to 1"),
        ({"user_id": "u", "capabilities": ["PUBLISH"], "duration": "20161"}, "less than or equal to 20160"),
        ({"user_id": "u", "capabilities": ["PUBLISH"], "attributes": "novalue"}, "Line 1: write key=value."),
        ({"user_id": "u", "capabilities": ["PUBLISH"], "attributes": "bad key=1"}, "letters, digits, hyphens"),
        ({"user_id": "u", "capabilities": ["PUBLISH"], "attributes": "a=1\na=2"}, "appears twice"),
        ({"user_id": "u", "capabilities": ["PUBLISH"], "attributes": "a=" + "x" * 960}, "limit is 960 bytes"),
    ],
)
def test_token_rules(row, message):
    formset = _formset(TokenFormSet, "tokens", [row])
    assert not formset.is_valid()
    assert message in _errors(formset)


def test_at_most_twelve_tokens():
    rows = [{"user_id": f"u{n}", "capabilities": ["SUBSCRIBE"]} for n in range(13)]
    formset = _formset(TokenFormSet, "tokens", rows)
    assert not formset.is_valid()
    assert "12" in _errors(formset)


def test_token_defaults_and_attributes():
    formset = _formset(
        TokenFormSet,
        "tokens",
        [{"user_id": "host", "capabilities": ["PUBLISH", "SUBSCRIBE"], "attributes": "role=host\n"}],
    )
    assert formset.is_valid()
    (spec,) = formset.specs
    assert spec.duration == 720
    assert spec.attributes == {"role": "host"}
    assert spec.as_aws() == {
        "capabilities": ["PUBLISH", "SUBSCRIBE"], "duration": 720, "userId": "host", "attributes": {"role": "host"},
    }  # fmt: skip


def test_issuing_needs_at_least_one_row_and_a_row_left_at_its_defaults_counts():
    none = _formset(IssueTokenFormSet, "tokens", [])
    assert not none.is_valid()
    assert none.non_form_errors() == ["Add a token: this form issues one token per row."]
    untouched = _formset(IssueTokenFormSet, "tokens", [{"capabilities": ["PUBLISH", "SUBSCRIBE"], "duration": "720"}])
    assert untouched.is_valid()
    assert [spec.as_aws() for spec in untouched.specs] == [{"capabilities": ["PUBLISH", "SUBSCRIBE"], "duration": 720}]
    unchecked = _formset(IssueTokenFormSet, "tokens", [{"user_id": "", "duration": ""}])
    assert "Choose at least one capability." in _errors(unchecked)


def test_no_form_field_carries_a_maxlength_the_browser_would_cut_at():
    for form in (StageNameForm(), TagAddForm(), DisconnectForm(), TokenFormSet(prefix="tokens").empty_form):
        assert "maxlength" not in str(form)


def test_disconnect_needs_a_short_reason():
    assert "This field is required." in str(DisconnectForm({"reason": ""}).errors)
    assert "at most 128 characters" in str(DisconnectForm({"reason": "x" * 129}).errors)
    assert DisconnectForm({"reason": "abusive"}).is_valid()


def test_tag_add_form():
    assert "A tag needs a key." in str(TagAddForm({"key": "", "value": ""}).errors)
    assert TagAddForm({"key": "env", "value": ""}).is_valid()


def test_delete_confirmation_must_match_the_name():
    stage = Stage(name="doomed", arn="arn:aws:ivs:us-east-1:123456789012:stage/abc")
    assert StageDeleteForm({"confirm": "Doomed"}, stage=stage).errors["confirm"] == [
        "Type 'doomed' exactly to delete this stage."
    ]
    assert StageDeleteForm({"confirm": "doomed"}, stage=stage).is_valid()
    unnamed = Stage(name="", arn="arn:aws:ivs:us-east-1:123456789012:stage/abc")
    assert StageDeleteForm({"confirm": "abc"}, stage=unnamed).is_valid()


def test_filter_tag_syntax():
    assert "Filter tags as key=value." in str(StageFilter({"tag": "novalue"}).errors)
    assert "Filter tags as key=value." in str(StageFilter({"tag": " =rtc"}).errors)
    filters = StageFilter({"tag": "team = rtc"})
    assert filters.is_valid()
    assert filters.form.cleaned_data["tag"] == ("team", "rtc")
