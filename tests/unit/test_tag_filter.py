"""The tag filter on both engines the portal runs on: string and numeric-looking values, keys of any shape."""

from __future__ import annotations

import pytest
from django.db import connections

from portal.stages.filters import StageFilter
from portal.stages.models import Stage
from tests.conftest import login
from tests.factories import StageFactory

TAGS = [
    ("media", {"team": "media"}),
    ("media-too", {"team": "media", "cost": "3"}),
    ("cost-3", {"cost": "3"}),
    ("cost-30", {"cost": "30"}),
    ("digits-key", {"3": "x"}),
    ("dotted", {"a.b": "1", 'say "hi"': "v", "a__b": "z"}),
    ("spaces", {"owner": "Ada Lovelace"}),
    ("empty-value", {"flag": ""}),
]


@pytest.mark.django_db(databases=["default", "sqlite"])
@pytest.mark.parametrize("alias", ["default", "sqlite"])
@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("team=media", ["media", "media-too"]),
        ("cost=3", ["cost-3", "media-too"]),
        ("cost=30", ["cost-30"]),
        ("cost=4", []),
        ("team=medi", []),
        ("3=x", ["digits-key"]),
        ("a.b=1", ["dotted"]),
        ('say "hi"=v', ["dotted"]),
        ("a__b=z", ["dotted"]),
        ("owner=Ada Lovelace", ["spaces"]),
        ("flag=", ["empty-value"]),
    ],
)
def test_the_tag_filter_matches_exactly_on_both_engines(alias, tag, expected):
    for name, tags in TAGS:
        StageFactory.build(name=name, tags=tags).save(using=alias)
    filters = StageFilter({"tag": tag}, queryset=Stage.objects.using(alias).all())
    assert filters.is_valid()
    assert sorted(filters.qs.values_list("name", flat=True)) == expected
    assert connections[alias].vendor == ("sqlite" if alias == "sqlite" else connections["default"].vendor)


@pytest.mark.django_db
def test_the_stage_list_filters_by_a_numeric_looking_tag(viewer):
    StageFactory(name="three", tags={"cost": "3"})
    StageFactory(name="four", tags={"cost": "4"})
    page = login(viewer).get("/stages/", {"tag": "cost=3"})
    assert page.status_code == 200
    assert ">three</a>" in page.content.decode()
    assert ">four</a>" not in page.content.decode()
