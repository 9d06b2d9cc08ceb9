"""The migrations of security issue 12's access fix, on rows made before it:
each app's creator gets an Owner grant, the one creator of all of a group's
apps its Owner, and resource group names become lowercase in apps and role
assignments."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

BEFORE = [("webapps", "0003_webapp_https_only"), ("access", "0001_initial")]
AFTER = [("access", "0002_resource_group_lowercase_creator_grants")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_creators_get_owner_grants_and_group_names_become_lowercase():
    old = _migrate(BEFORE)
    User = old.get_model("auth", "User")
    WebApp = old.get_model("webapps", "WebApp")
    RoleAssignment = old.get_model("access", "RoleAssignment")
    alice = User.objects.create(username="alice")
    bob = User.objects.create(username="bob")
    shop = WebApp.objects.create(name="shop", owner_id=alice.pk, resource_group="Shop")
    blog = WebApp.objects.create(name="blog", owner_id=bob.pk, resource_group="default")
    # Two creators share "mixed": it gets no Owner (staff grant one).
    WebApp.objects.create(name="mixed-a", owner_id=alice.pk, resource_group="mixed")
    WebApp.objects.create(name="mixed-b", owner_id=bob.pk, resource_group="MIXED")
    # bob already holds Owner on his app through a grant: not doubled.
    RoleAssignment.objects.create(role="Owner", user_id=bob.pk, app_id=blog.pk)
    RoleAssignment.objects.create(role="Reader", user_id=bob.pk, resource_group="SHOP")
    # The probe's grant: mallory, creator of one app in alice's group, made
    # herself Owner of the group. Kept: alice sharing her own group.
    mallory = User.objects.create(username="mallory")
    WebApp.objects.create(name="victim", owner_id=alice.pk, resource_group="secrg")
    WebApp.objects.create(name="mallory-app", owner_id=mallory.pk, resource_group="secrg")
    RoleAssignment.objects.create(
        role="Owner", user_id=mallory.pk, resource_group="secrg", created_by_id=mallory.pk
    )
    RoleAssignment.objects.create(
        role="Reader", user_id=mallory.pk, resource_group="shop", created_by_id=alice.pk
    )
    try:
        new = _migrate(AFTER)
        WebApp = new.get_model("webapps", "WebApp")
        RoleAssignment = new.get_model("access", "RoleAssignment")
        assert WebApp.objects.get(pk=shop.pk).resource_group == "shop"
        grants = set(
            RoleAssignment.objects.values_list(
                "role", "user__username", "app__name", "resource_group"
            )
        )
        assert grants == {
            ("Owner", "alice", "shop", ""),
            ("Owner", "alice", "mixed-a", ""),
            ("Owner", "bob", "blog", ""),
            ("Owner", "bob", "mixed-b", ""),
            ("Reader", "bob", None, "shop"),
            # alice created every app in shop: she may go on adding apps to it.
            ("Owner", "alice", None, "shop"),
            ("Reader", "mallory", None, "shop"),
            ("Owner", "alice", "victim", ""),
            ("Owner", "mallory", "mallory-app", ""),
        }
        AuditEvent = new.get_model("audit", "AuditEvent")
        logged = AuditEvent.objects.filter(action="roleassignment.delete")
        assert sorted(logged.values_list("app_name", flat=True)) == ["mallory-app", "victim"]
        assert "granted by mallory, who held no role on the group" in logged.first().summary
    finally:
        # Back to the latest schema for the tests after this one.
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
