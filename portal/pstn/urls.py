from django.urls import path

from portal.pstn import views

urlpatterns = [
    path("", views.call_list, name="pstn_calls"),
    path("<id:call_pk>/", views.call_detail, name="pstn_call"),
    path("<id:call_pk>/hangup/", views.call_hangup, name="pstn_call_hangup"),
    path("lockouts/<id:lockout_pk>/lift/", views.pin_lockout_lift, name="pstn_lockout_lift"),
    path("meeting/<id:meeting_pk>/dial/", views.meeting_dial_out, name="pstn_dial_out"),
    path("meeting/<id:meeting_pk>/panel/", views.meeting_phone_panel, name="pstn_meeting_panel"),
    path("wiring/", views.wiring, name="pstn_wiring"),
    path("wiring/smas/new/", views.sma_create, name="pstn_sma_create"),
    path("wiring/smas/<id:sma_pk>/", views.sma_update, name="pstn_sma_update"),
    path("wiring/smas/<id:sma_pk>/delete/", views.sma_delete, name="pstn_sma_delete"),
    path("wiring/rules/new/", views.rule_create, name="pstn_rule_create"),
    path("wiring/rules/<id:rule_pk>/", views.rule_update, name="pstn_rule_update"),
    path("wiring/rules/<id:rule_pk>/delete/", views.rule_delete, name="pstn_rule_delete"),
    path("wiring/numbers/search/", views.numbers_search, name="pstn_numbers_search"),
    path("wiring/numbers/search/<id:search_pk>/order/", views.numbers_order, name="pstn_numbers_order"),
    path("wiring/numbers/<id:number_pk>/", views.number_update, name="pstn_number_update"),
    path("wiring/numbers/<id:number_pk>/release/", views.number_release, name="pstn_number_release"),
    path("wiring/numbers/<id:number_pk>/restore/", views.number_restore, name="pstn_number_restore"),
]
