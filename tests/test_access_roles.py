"""Roles: who holds which (role_for / can), the Access control (IAM) page
with its add and remove forms, and what a Reader's pages leave out."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from apps.access import services
from apps.access.models import Role, RoleAssignment
from apps.audit.models import AuditEvent
from apps.webapps.models import WebApp

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/apps/hello-flask/access/"


@pytest.fixture
def carol(db) -> User:
    return User.objects.create_user("carol")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_creator_and_staff_are_owners(alice, admin_user, webapp):
    assert services.role_for(alice, webapp) == Role.OWNER
    assert services.role_for(admin_user, webapp) == Role.OWNER


def test_a_user_without_a_grant_has_no_role(bob, webapp):
    assert services.role_for(bob, webapp) is None
    assert not services.can(bob, webapp, "read")
    assert not WebApp.objects.for_user(bob).exists()


def test_the_highest_of_direct_group_and_resource_group_grants_wins(bob, webapp):
    team = Group.objects.create(name="team")
    bob.groups.add(team)
    RoleAssignment.objects.create(role=Role.READER, user=bob, app=webapp)
    assert services.role_for(bob, webapp) == Role.READER
    RoleAssignment.objects.create(role=Role.CONTRIBUTOR, group=team, resource_group="DEFAULT")
    assert services.role_for(bob, webapp) == Role.CONTRIBUTOR
    assert services.can(bob, webapp, "write")
    assert not services.can(bob, webapp, "manage_access")


@pytest.mark.parametrize(
    ("role", "actions"),
    [
        (Role.READER, {"read"}),
        (Role.CONTRIBUTOR, {"read", "read_secrets", "write"}),
        (Role.OWNER, {"read", "read_secrets", "write", "manage_access"}),
    ],
)
def test_each_role_allows_its_actions(bob, webapp, role, actions):
    RoleAssignment.objects.create(role=role, user=bob, app=webapp)
    allowed = {a for a in services.ACTIONS if services.can(bob, webapp, a)}
    assert allowed == actions


def test_a_grant_on_another_apps_resource_group_gives_nothing(bob, alice, webapp):
    RoleAssignment.objects.create(role=Role.OWNER, user=bob, resource_group="elsewhere")
    assert services.role_for(bob, webapp) is None
    assert not WebApp.objects.for_user(bob).exists()


def test_for_user_lists_each_app_once(bob, alice, webapp):
    team = Group.objects.create(name="team")
    bob.groups.add(team)
    RoleAssignment.objects.create(role=Role.READER, user=bob, app=webapp)
    RoleAssignment.objects.create(role=Role.READER, group=team, app=webapp)
    RoleAssignment.objects.create(role=Role.READER, user=bob, resource_group="default")
    assert list(WebApp.objects.for_user(bob)) == [webapp]


def test_the_page_lists_assignments_for_every_role(bob, webapp):
    RoleAssignment.objects.create(role=Role.READER, user=bob, app=webapp)
    page = _client(bob).get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Access control (IAM)" in html
    assert 'id="my-role">Reader' in html
    assert "grant-form" not in html and "Remove" not in html


def test_an_owner_adds_a_role_and_it_is_audited(alice_client, bob, webapp):
    response = alice_client.post(
        URL + "add",
        {"role": "Contributor", "principal_type": "user", "principal": "bob", "scope": "app"},
    )
    assert response.status_code == 302
    assert services.role_for(bob, webapp) == Role.CONTRIBUTOR
    event = AuditEvent.objects.get(action="roleassignment.create")
    assert event.actor_name == "alice"
    assert event.after == {
        "role": "Contributor",
        "principal": "user:bob",
        "scope": "app hello-flask",
    }


def test_a_group_owner_grants_a_group_on_the_resource_group(alice, carol, webapp):
    # Owner of the group, not only of the app: a staff user made her so.
    RoleAssignment.objects.create(role=Role.OWNER, user=alice, resource_group="default")
    team = Group.objects.create(name="team")
    carol.groups.add(team)
    response = _client(alice).post(
        URL + "add",
        {
            "role": "Reader",
            "principal_type": "group",
            "principal": "team",
            "scope": "resource_group",
        },
    )
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(group=team)
    assert assignment.app is None and assignment.resource_group == "default"
    assert services.role_for(carol, webapp) == Role.READER


def test_it_says_which_principal_does_not_exist(alice_client, webapp):
    response = alice_client.post(
        URL + "add",
        {"role": "Reader", "principal_type": "user", "principal": "nobody", "scope": "app"},
    )
    assert response.status_code == 400
    assert "No user is called" in response.content.decode()
    assert list(RoleAssignment.objects.values_list("user__username", flat=True)) == ["alice"]


def test_granting_twice_keeps_one_assignment(alice, bob, webapp):
    first = services.grant(webapp, role="Reader", user=bob, actor=alice)
    again = services.grant(webapp, role="Reader", user=bob, actor=alice)
    assert first.pk == again.pk
    assert AuditEvent.objects.filter(action="roleassignment.create").count() == 1


def test_an_owner_removes_a_role_and_access_ends(alice_client, bob, webapp):
    assignment = RoleAssignment.objects.create(role=Role.READER, user=bob, app=webapp)
    bob_client = _client(bob)
    assert bob_client.get("/apps/hello-flask/").status_code == 200
    response = alice_client.post(f"{URL}{assignment.pk}/remove")
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(user=bob).exists()
    assert bob_client.get("/apps/hello-flask/").status_code == 404
    assert AuditEvent.objects.filter(action="roleassignment.delete").exists()


@pytest.mark.parametrize("role", [Role.READER, Role.CONTRIBUTOR])
def test_only_owners_change_access(bob, carol, webapp, role):
    RoleAssignment.objects.create(role=role, user=bob, app=webapp)
    other = RoleAssignment.objects.create(role=Role.READER, user=carol, app=webapp)
    client = _client(bob)
    add = {"role": "Owner", "principal_type": "user", "principal": "bob", "scope": "app"}
    assert client.post(URL + "add", add).status_code == 403
    assert client.post(f"{URL}{other.pk}/remove").status_code == 403
    assert RoleAssignment.objects.count() == 3  # the creator's, bob's and carol's


def test_a_granted_owner_may_manage_access(bob, carol, webapp):
    RoleAssignment.objects.create(role=Role.OWNER, user=bob, app=webapp)
    add = {"role": "Reader", "principal_type": "user", "principal": "carol", "scope": "app"}
    assert _client(bob).post(URL + "add", add).status_code == 302
    assert services.role_for(carol, webapp) == Role.READER


def test_the_sidebar_has_the_access_entry(alice_client, webapp):
    assert (
        "Access control (IAM)" in alice_client.get("/apps/hello-flask/activity/").content.decode()
    )


def test_a_reader_sees_pages_without_the_buttons_that_change_things(
    bob, webapp, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    webapp.state = WebApp.State.RUNNING
    webapp.save()
    RoleAssignment.objects.create(role=Role.READER, user=bob, app=webapp)
    client = _client(bob)
    with mock.patch("apps.engine.runtimes.catalog", return_value=[]):
        pages = {
            "overview": client.get("/apps/hello-flask/").content.decode(),
            "config": client.get("/apps/hello-flask/configuration/").content.decode(),
            "general": client.get("/apps/hello-flask/configuration/general/").content.decode(),
            "center": client.get("/apps/hello-flask/deployment-center/").content.decode(),
        }
    # Start/Stop/Restart are shown disabled with the reason; no form reaches them.
    assert "/power/" not in pages["overview"]
    assert 'disabled class="power-disabled"' in pages["overview"]
    assert "Contributor or Owner can start, stop or restart it" in pages["overview"]
    assert 'id="save-button"' not in pages["config"]
    assert "Show values" not in pages["config"] and "Advanced edit" not in pages["config"]
    assert 'id="save-button"' not in pages["general"]
    assert 'id="upload-button"' not in pages["center"]
    assert 'id="show-password"' not in pages["center"]
    assert "Reset credentials" not in pages["center"]
    # SSH is in the menu, disabled, not a link.
    assert 'href="/apps/hello-flask/ssh/"' not in pages["overview"]
    assert 'id="ssh-disabled"' in pages["overview"]


def test_a_contributor_sees_the_buttons(bob, webapp, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    RoleAssignment.objects.create(role=Role.CONTRIBUTOR, user=bob, app=webapp)
    client = _client(bob)
    assert "Restart" in client.get("/apps/hello-flask/").content.decode()
    assert 'id="save-button"' in client.get("/apps/hello-flask/configuration/").content.decode()
    center = client.get("/apps/hello-flask/deployment-center/").content.decode()
    assert 'id="upload-button"' in center and 'id="show-password"' in center


def test_only_the_groups_owners_see_remove_on_a_group_wide_grant(alice, bob, carol, webapp):
    inherited = RoleAssignment.objects.create(
        role=Role.READER, user=carol, resource_group="default"
    )
    remove = f"{URL}{inherited.pk}/remove"
    # alice created the app (Owner on it) but holds no role on its group.
    assert remove not in _client(alice).get(URL).content.decode()
    RoleAssignment.objects.create(role=Role.OWNER, user=bob, resource_group="default")
    page = _client(bob).get(URL).content.decode()
    assert remove in page and 'id="my-group-role">Owner' in page
