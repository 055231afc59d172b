from django.urls import URLPattern, URLResolver, path

from tandem.automation import views

app_name = "automation"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.flow_list, name="flows"),
    path("new/", views.flow_new, name="flow_new"),
    path("policy/", views.policy_save, name="policy"),
    path("<int:pk>/", views.flow_detail, name="flow"),
    path("<int:pk>/settings/", views.flow_settings, name="flow_settings"),
    path("<int:pk>/graph/", views.flow_graph, name="flow_graph"),
    path("<int:pk>/steps/add/", views.flow_step_add, name="flow_step_add"),
    path("<int:pk>/steps/<slug:node_id>/", views.flow_step, name="flow_step"),
    path("<int:pk>/steps/<slug:node_id>/remove/", views.flow_step_remove, name="flow_step_remove"),
    path("<int:pk>/publish/", views.flow_publish, name="flow_publish"),
    path("<int:pk>/status/", views.flow_status, name="flow_status"),
    path("<int:pk>/test/", views.flow_test_enrol, name="flow_test"),
    path("enrolments/<int:pk>/", views.enrolment_detail, name="enrolment"),
    path("enrolments/<int:pk>/exit/", views.enrolment_exit, name="enrolment_exit"),
]
