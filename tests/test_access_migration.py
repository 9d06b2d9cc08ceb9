"""The migrations of security issue 12's access fix, on rows made before it:
each app's creator gets an Owner grant, and resource group names become
lowercase in apps and role assignments."""

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
    # bob already holds Owner on his app through a grant: not doubled.
    RoleAssignment.objects.create(role="Owner", user_id=bob.pk, app_id=blog.pk)
    RoleAssignment.objects.create(role="Reader", user_id=bob.pk, resource_group="SHOP")
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
            ("Owner", "bob", "blog", ""),
            ("Reader", "bob", None, "shop"),
        }
    finally:
        # Back to the latest schema for the tests after this one.
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
