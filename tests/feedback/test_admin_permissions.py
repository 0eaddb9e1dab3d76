"""Every goodsassoc admin view: no login, staff without the permission, staff with it."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

GET_VIEWS = [
    ("/admin/goodsassoc/feedbackdaily/", "view_feedbackdaily"),
    ("/admin/goodsassoc/interaction/", "view_interaction"),
    ("/admin/goodsassoc/interaction/export/", "view_interaction"),
    ("/admin/goodsassoc/impressionset/", "view_impressionset"),
    ("/admin/goodsassoc/recommendationclick/", "view_recommendationclick"),
    ("/admin/goodsassoc/attributedconversion/", "view_attributedconversion"),
    ("/admin/goodsassoc/trainingrun/", "view_trainingrun"),
    ("/admin/goodsassoc/modelversion/", "view_modelversion"),
    ("/admin/goodsassoc/merchantrule/", "view_merchantrule"),
    ("/admin/goodsassoc/merchantrule/add/", "add_merchantrule"),
    ("/admin/goodsassoc/identitylink/", "view_identitylink"),
]
POST_VIEWS = [
    ("/admin/goodsassoc/feedbackdaily/refresh/", "view_feedbackdaily"),
    ("/admin/goodsassoc/trainingrun/retrain/", "change_trainingrun"),
]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("clerk", password="pw-clerk-123", is_staff=True)


def as_user(user, *codenames):
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="goodsassoc", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("url", "perm"), GET_VIEWS + POST_VIEWS)
def test_anonymous_visitors_are_sent_to_the_login(db, url, perm):
    response = Client().post(url) if (url, perm) in POST_VIEWS else Client().get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize(("url", "perm"), GET_VIEWS)
def test_get_views_need_their_permission(staff, articles, url, perm):
    assert as_user(staff).get(url).status_code == 403
    assert as_user(staff, perm).get(url).status_code == 200


def test_refreshing_the_summaries_needs_the_dashboard_permission(staff):
    url = POST_VIEWS[0][0]
    assert as_user(staff).post(url).status_code == 403
    assert as_user(staff, "view_feedbackdaily").post(url).status_code == 302


def test_retraining_needs_the_change_permission(staff):
    url = POST_VIEWS[1][0]
    assert as_user(staff, "view_trainingrun").post(url).status_code == 403
