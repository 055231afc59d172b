from django.urls import path

from tandem.crm import privacy_views, views

app_name = "crm"
urlpatterns: list = [
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/export/", views.contact_export, name="contact_export"),
    path("contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/pick/", views.contact_pick, name="contact_pick"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/delete/", views.contact_delete, name="contact_delete"),
    path("contacts/<int:pk>/timeline/", views.contact_timeline, name="contact_timeline"),
    path("contacts/<int:pk>/activity/", views.contact_activity, name="contact_activity"),
    path("contacts/<int:pk>/privacy/", privacy_views.contact_privacy, name="contact_privacy"),
    path(
        "contacts/<int:pk>/personal-data/",
        privacy_views.contact_personal_data,
        name="contact_personal_data",
    ),
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/export/", views.account_export, name="account_export"),
    path("accounts/new/", views.account_create, name="account_create"),
    path("accounts/pick/", views.account_pick, name="account_pick"),
    path(
        "accounts/industry-fields/", views.account_industry_fields, name="account_industry_fields"
    ),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/edit/", views.account_edit, name="account_edit"),
    path("accounts/<int:pk>/delete/", views.account_delete, name="account_delete"),
    path("accounts/<int:pk>/timeline/", views.account_timeline, name="account_timeline"),
    path("accounts/<int:pk>/activity/", views.account_activity, name="account_activity"),
    path("duplicates/", views.duplicates, name="duplicates"),
    path("duplicates/merge/", views.contacts_merge, name="contacts_merge"),
]
