"""Onboarding: a roster import invites new accounts by e-mail; the link sets a first password."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from competitions.models import Invitation, Membership

pytestmark = pytest.mark.django_db

ROSTER = "username,email,first_name\nnewbie,newbie@example.org,Nora\nalice,alice@example.org,\n"
LINK = re.compile(r"http://testserver(/invite/[^/\s]+/)")


def _instructor(course) -> Client:
    c = Client()
    c.force_login(get_user_model().objects.get(username="teacher"))
    return c


def _can_log_in(username: str, password: str) -> bool:
    r = Client().post("/accounts/login/", {"username": username, "password": password})
    return r.status_code == 302


def _import(client: Client, course, text: str = ROSTER):
    from django.core.files.uploadedfile import SimpleUploadedFile

    f = SimpleUploadedFile("roster.csv", text.encode(), content_type="text/csv")
    return client.post(f"/teach/courses/{course.slug}/roster/", {"csv_file": f}, follow=True)


def _link(message) -> str:
    m = LINK.search(message.body)
    assert m, message.body
    return m.group(1)


def test_roster_import_invites_new_accounts_and_tells_existing_ones(users, course, mailoutbox):
    Membership.objects.filter(course=course, user=users["alice"]).delete()
    r = _import(_instructor(course), course)
    assert r.status_code == 200
    assert "2 enrolled, 1 new; 2 e-mails sent" in r.content.decode()
    by_to = {m.to[0]: m for m in mailoutbox}
    invite, notice = by_to["newbie@example.org"], by_to["alice@example.org"]
    assert "your account for ML 101" in invite.subject and "newbie" in invite.body
    assert "/invite/" not in notice.body and "enrolled in the course ML 101" in notice.body
    inv = Invitation.objects.get(user__username="newbie")
    assert inv.sent_at is not None and inv.send_error == ""
    assert inv.expires_at - inv.created_at == dt.timedelta(days=7)
    # Only the hash is stored: the token exists in the e-mail alone.
    assert _link(invite).split("/")[2] not in inv.token_hash


def test_reimporting_the_same_roster_sends_nothing_again(users, course, mailoutbox):
    client = _instructor(course)
    _import(client, course)
    n = len(mailoutbox)
    _import(client, course)
    assert len(mailoutbox) == n


def test_invitation_link_sets_password_logs_in_and_works_once(
    users, course, competition, mailoutbox
):
    _import(_instructor(course), course)
    link = _link(next(m for m in mailoutbox if m.to == ["newbie@example.org"]))
    student = Client()
    page = student.get(link)
    assert page.status_code == 200 and "newbie" in page.content.decode()
    r = student.post(
        link, {"new_password1": "a-Good-pass-42", "new_password2": "a-Good-pass-42"}, follow=True
    )
    assert r.status_code == 200
    assert "your password is set" in r.content.decode()
    assert competition.title in r.content.decode()  # logged in, the course's competitions shown
    assert _can_log_in("newbie", "a-Good-pass-42")
    again = Client().post(
        link, {"new_password1": "x-Other-pass-9", "new_password2": "x-Other-pass-9"}
    )
    assert again.status_code == 410 and "already used" in again.content.decode()
    assert _can_log_in("newbie", "a-Good-pass-42")


def test_expired_and_replaced_links_are_refused_with_the_reason(users, course, mailoutbox):
    client = _instructor(course)
    _import(client, course)
    first = _link(mailoutbox[-1])
    newbie = get_user_model().objects.get(username="newbie")
    r = client.post(f"/teach/courses/{course.slug}/roster/resend/{newbie.pk}/", follow=True)
    assert "A new invitation went to newbie@example.org" in r.content.decode()
    second = _link(mailoutbox[-1])
    assert second != first
    old = Client().get(first)
    assert old.status_code == 410 and "replaced by a newer one" in old.content.decode()
    Invitation.objects.filter(user=newbie, revoked_at=None).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    late = Client().get(second)
    assert late.status_code == 410 and "has expired" in late.content.decode()
    assert not get_user_model().objects.get(username="newbie").has_usable_password()


def test_roster_page_shows_who_has_not_activated(users, course, mailoutbox):
    client = _instructor(course)
    _import(client, course)
    page = client.get(f"/teach/courses/{course.slug}/roster/").content.decode()
    row = re.search(r'<tr data-username="newbie">.*?</tr>', page, re.S)
    assert row and "not activated: invitation pending" in row.group(0)
    assert "Send a new invitation" in row.group(0)
    alice = re.search(r'<tr data-username="alice">.*?</tr>', page, re.S)
    assert alice and "active" in alice.group(0) and "Send a new invitation" not in alice.group(0)


def test_only_the_course_instructor_can_resend(users, course, mailoutbox):
    _import(_instructor(course), course)
    newbie = get_user_model().objects.get(username="newbie")
    bob = Client()
    bob.force_login(users["bob"])
    r = bob.post(f"/teach/courses/{course.slug}/roster/resend/{newbie.pk}/")
    assert r.status_code == 404


def test_mail_server_down_keeps_the_import_and_says_so(users, course, settings, mailoutbox):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
        }
    }
    client = _instructor(course)
    r = _import(client, course)
    assert "1 not sent (see below)" in r.content.decode()
    assert get_user_model().objects.filter(username="newbie").exists()
    inv = Invitation.objects.get(user__username="newbie")
    assert inv.sent_at is None and "mail server unreachable" in inv.send_error
    page = client.get(f"/teach/courses/{course.slug}/roster/").content.decode()
    assert "invitation failed (mail server unreachable" in page


def test_invited_account_can_use_forgot_password(users, course, mailoutbox):
    _import(_instructor(course), course)
    mailoutbox.clear()
    r = Client().post("/accounts/password_reset/", {"email": "newbie@example.org"}, follow=True)
    assert r.status_code == 200
    assert [m.to for m in mailoutbox] == [["newbie@example.org"]]
    assert "/accounts/reset/" in mailoutbox[0].body


@pytest.mark.parametrize(
    "url", ["/accounts/login/", "/accounts/password_reset/", "/accounts/password_reset/done/"]
)
def test_account_pages_use_podiums_templates(client, url):
    page = client.get(url).content.decode()
    assert "Django administration" not in page
    assert "Podium" in page


def test_admin_link_only_for_instructors_the_admin_lets_in(users, course):
    from django.contrib.auth.models import Permission

    teacher = users["teacher"]
    teacher.is_staff = True
    teacher.save()
    client = Client()
    client.force_login(teacher)
    assert 'id="admin-link"' not in client.get("/teach/").content.decode()
    teacher.user_permissions.add(Permission.objects.get(codename="view_competition"))
    client.force_login(get_user_model().objects.get(pk=teacher.pk))
    assert 'id="admin-link"' in client.get("/teach/").content.decode()
    assert client.get("/admin/").status_code == 200
