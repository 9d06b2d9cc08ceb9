"""Security issue 12, finding 1 (and the creator part of 11): owning one app
must not give a role on its resource group, nor on any other app. Each test
replays one of the probe's attacks through the real pages and API, as a
signed-in user (mallory) who holds no role on the victims' apps."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.access import services as access
from apps.access.models import Role, RoleAssignment
from apps.api.models import ApiToken
from apps.audit.models import AuditEvent
from apps.deployments import teardown
from apps.webapps import services
from apps.webapps.models import WebApp
from tests.apiutil import ApiClient
from tests.security_helpers import table_fixture

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

table = table_fixture("Access: cross-app takeovers")

SECRET = "db-s3cret-value"


@pytest.fixture
def mallory(db) -> User:
    return User.objects.create_user("mallory")


@pytest.fixture
def victim(alice) -> WebApp:
    """alice's app in her group secrg, with a secret."""
    app = services.create_app(name="victim-app", owner=alice, resource_group="secrg")
    services.set_app_settings(app, [services.SettingInput("DB_PASSWORD", SECRET)], actor=alice)
    return app


@pytest.fixture
def shared(alice, victim, mallory) -> WebApp:
    """Another app in secrg on which alice made mallory Owner: legitimately
    Owner of this one app, and of nothing else in the group."""
    app = services.create_app(name="shared-app", owner=alice, resource_group="secrg")
    access.grant(app, role=Role.OWNER, user=mallory, actor=alice)
    return app


def _page(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user: User) -> ApiClient:
    _, token = ApiToken.objects.create_for(user, "tests")
    return ApiClient(token)


def _grant_form(principal: str, scope: str, role: str = "Owner") -> dict:
    return {"role": role, "principal_type": "user", "principal": principal, "scope": scope}


def _reaches(user: User, app: WebApp) -> list[int]:
    """What the probe did next: read the secrets through the API and open
    the SSH page. Both answer 404 to a user who holds no role."""
    secrets = _api(user).get(f"/api/apps/{app.name}/appsettings?showValues=true")
    assert SECRET not in secrets.content.decode()
    ssh = _page(user).get(f"/apps/{app.name}/ssh/")
    return [secrets.status_code, ssh.status_code]


def test_an_app_owner_cannot_grant_a_role_on_its_resource_group(table, mallory, victim, shared):
    with table.attack("1", "grant oneself Owner on the group from one's own app's page") as row:
        r = _page(mallory).post(
            "/apps/shared-app/access/add", _grant_form("mallory", "resource_group")
        )
        assert r.status_code == 403
        assert "requires the Owner role on the resource group" in r.content.decode()
        assert not RoleAssignment.objects.filter(user=mallory, app__isnull=True).exists()
        assert access.role_for(mallory, victim) is None
        assert _reaches(mallory, victim) == [404, 404]
        row.outcome = "refused: 403 (Owner on the group needed); victim's secrets and SSH 404"


def test_an_app_owner_cannot_remove_a_group_wide_grant(table, alice, mallory, victim, shared):
    team = RoleAssignment.objects.create(role=Role.READER, user=alice, resource_group="secrg")
    with table.attack("1", "remove a group-wide grant from one's own app's page") as row:
        r = _page(mallory).post(f"/apps/shared-app/access/{team.pk}/remove")
        assert r.status_code == 403
        assert RoleAssignment.objects.filter(pk=team.pk).exists()
        row.outcome = "refused: 403; the group's grant is kept"


def test_a_user_cannot_create_an_app_in_someone_elses_group_through_the_api(table, mallory, victim):
    with table.attack("1", "PUT /api/apps/<own> into the victim's group, then grant") as row:
        r = _api(mallory).put("/api/apps/mallory-app", {"resourceGroup": "secrg"})
        assert r.status_code == 403, r.content
        assert r.json()["error"]["code"] == "AuthorizationFailed"
        assert "Contributor or Owner role on the resource group" in r.json()["error"]["message"]
        assert not WebApp.objects.filter(name="mallory-app").exists()
        assert _reaches(mallory, victim) == [404, 404]
        row.outcome = "refused: 403 AuthorizationFailed (Contributor on the group needed)"


def test_a_user_cannot_create_an_app_in_someone_elses_group_through_the_page(
    table, mallory, victim
):
    with table.attack("1", "create an app in the victim's group on the Create page") as row:
        r = _page(mallory).post(
            "/apps/new/",
            {"name": "mallory-app", "resource_group": "secrg", "linux_fx_version": "PYTHON|3.11"},
        )
        assert r.status_code == 403
        assert "Contributor or Owner role on the resource group" in r.content.decode()
        assert not WebApp.objects.filter(name="mallory-app").exists()
        row.outcome = "refused: 403 with the reason on the form"


def test_a_case_variant_of_a_group_name_is_the_same_group(table, mallory, victim):
    with table.attack("1", "PUT an app into 'SECRG' (the victim's group in capitals)") as row:
        r = _api(mallory).put("/api/apps/mallory-app", {"resourceGroup": "SECRG"})
        assert r.status_code == 403
        assert not WebApp.objects.filter(name="mallory-app").exists()
        row.outcome = "refused: 403 (one group, compared in lowercase)"


def test_default_in_capitals_does_not_reach_the_admins_apps(table, admin_user, mallory):
    services.create_app(name="admin-app", owner=admin_user)
    services.set_app_settings(
        WebApp.objects.get(name="admin-app"),
        [services.SettingInput("DB_PASSWORD", SECRET)],
        actor=admin_user,
    )
    with table.attack("1", "create an app in 'DEFAULT', grant group-wide Owner") as row:
        r = _api(mallory).put("/api/apps/mallory-app", {"resourceGroup": "DEFAULT"})
        # Anyone may create apps in the shared default group; its name is one spelling.
        assert r.status_code == 201
        assert r.json()["resourceGroup"] == "default"
        r = _page(mallory).post(
            "/apps/mallory-app/access/add", _grant_form("mallory", "resource_group")
        )
        assert r.status_code == 403
        assert access.role_for(mallory, WebApp.objects.get(name="admin-app")) is None
        assert _reaches(mallory, WebApp.objects.get(name="admin-app")) == [404, 404]
        row.outcome = "created in 'default' (shared); group-wide grant refused: 403"


def test_group_names_are_stored_and_filtered_one_way(alice_client, alice):
    services.create_app(name="shop-app", owner=alice, resource_group="Shop")
    assert WebApp.objects.get(name="shop-app").resource_group == "shop"
    listed = alice_client.get("/?resource_group=SHOP").content.decode()
    assert "shop-app" in listed
    assert WebApp.objects.filter(resource_group="SHOP").count() == 1


def test_moving_ones_own_app_into_another_group_is_refused(table, mallory, victim):
    # Already refused on main (an app's group is fixed at creation): kept as a guard.
    services.create_app(name="mallory-app", owner=mallory)
    with table.attack("1", "move one's own app into the victim's group (API, General page)") as row:
        r = _api(mallory).put("/api/apps/mallory-app", {"resourceGroup": "secrg"})
        assert r.status_code == 409
        _page(mallory).post(
            "/apps/mallory-app/configuration/general/",
            {"linux_fx_version": "PYTHON|3.11", "resource_group": "secrg"},
        )
        assert WebApp.objects.get(name="mallory-app").resource_group == "default"
        row.outcome = "refused: 409 (the group is fixed at creation); the page has no group field"


def test_a_group_wide_grant_cannot_outlive_the_app_it_was_made_from(
    table, alice, mallory, victim, shared
):
    with table.attack("1", "grant group-wide from one's app, then delete that app") as row:
        _page(mallory).post("/apps/shared-app/access/add", _grant_form("mallory", "resource_group"))
        teardown.delete_app(shared, actor=alice)
        assert not RoleAssignment.objects.filter(user=mallory).exists()
        assert not WebApp.objects.for_user(mallory).exists()
        assert _reaches(mallory, victim) == [404, 404]
        row.outcome = "refused at the grant; nothing of mallory's is left in secrg"


def test_every_app_in_the_group_logs_a_group_wide_grant_and_its_revoke(table, alice, bob, victim):
    second = services.create_app(name="second-app", owner=alice, resource_group="secrg")
    with table.attack("1", "a group-wide grant and revoke unseen in the apps' Activity log") as row:
        r = _page(alice).post("/apps/victim-app/access/add", _grant_form("bob", "resource_group"))
        assert r.status_code == 302
        assignment = RoleAssignment.objects.get(user=bob)
        _page(alice).post(f"/apps/victim-app/access/{assignment.pk}/remove")
        for app in (victim, second):
            events = AuditEvent.objects.filter(app=app, before__principal="user:bob") | (
                AuditEvent.objects.filter(app=app, after__principal="user:bob")
            )
            assert sorted(events.values_list("action", flat=True)) == [
                "roleassignment.create",
                "roleassignment.delete",
            ], app.name
        row.outcome = "logged: grant and revoke on each app of the group"


def test_the_creator_holds_an_ordinary_owner_grant_that_can_be_removed(
    table, alice, bob, admin_user
):
    app = services.create_app(name="created-app", owner=alice)
    creator = RoleAssignment.objects.get(user=alice, app=app)
    assert creator.role == Role.OWNER
    access.grant(app, role=Role.OWNER, user=bob, actor=alice)
    with table.attack("11", "remove an app's creator through Access control") as row:
        r = _page(bob).post(f"/apps/created-app/access/{creator.pk}/remove")
        assert r.status_code == 302
        assert access.role_for(alice, app) is None
        assert _page(alice).get("/apps/created-app/").status_code == 404
        assert AuditEvent.objects.filter(
            app=app, action="roleassignment.delete", before__principal="user:alice"
        ).exists()
        row.outcome = "removed: 302; the creator has no role left; logged"


def test_removing_the_last_owner_leaves_the_app_to_staff(alice, admin_user):
    app = services.create_app(name="created-app", owner=alice)
    creator = RoleAssignment.objects.get(user=alice, app=app)
    r = _page(alice).post(f"/apps/created-app/access/{creator.pk}/remove", follow=True)
    assert "has no Owner now: only staff can grant access to it" in r.content.decode()
    assert access.role_for(admin_user, app) == Role.OWNER


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 403), (Role.READER, 403), (Role.CONTRIBUTOR, 201), (Role.OWNER, 201)],
)
def test_creating_an_app_in_a_group_needs_contributor_there(table, mallory, victim, role, status):
    if role is not None:
        RoleAssignment.objects.create(role=role, user=mallory, resource_group="secrg")
    label = role.label if role else "no role"
    with table.attack("1", f"create an app in an existing group holding {label} on it") as row:
        r = _api(mallory).put("/api/apps/mallory-app", {"resourceGroup": "secrg"})
        assert r.status_code == status
        row.outcome = "allowed: 201" if status == 201 else f"refused: {status}"


def test_the_creator_of_a_new_group_becomes_its_owner(mallory):
    api = _api(mallory)
    assert api.put("/api/apps/first", {"resourceGroup": "mine"}).status_code == 201
    assert access.group_role(mallory, "MINE") == Role.OWNER
    assert api.put("/api/apps/second", {"resourceGroup": "mine"}).status_code == 201
    assert AuditEvent.objects.filter(
        app__name="first", action="roleassignment.create", after__scope="resource group mine"
    ).exists()


def test_a_new_user_creates_apps_in_the_default_group_without_owning_it(mallory, bob):
    # `berth webapp up` without -g on a fresh Berth: PUT with resourceGroup default.
    assert _api(mallory).put("/api/apps/m-app", {"resourceGroup": "default"}).status_code == 201
    assert _api(bob).put("/api/apps/b-app").status_code == 201
    assert access.group_role(mallory, "default") is None
    assert [a.name for a in WebApp.objects.for_user(mallory)] == ["m-app"]


def test_staff_create_apps_in_any_group(admin_user, victim):
    assert (
        _api(admin_user).put("/api/apps/staff-app", {"resourceGroup": "secrg"}).status_code == 201
    )
