"""The three roles, as Django groups: Viewer, Operator, Administrator."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "Viewer": ["jobs.view_jobrun", "config.view_optionchange"],
    "Operator": ["jobs.view_jobrun", "config.view_optionchange", "jobs.run_job"],
    "Administrator": ["jobs.view_jobrun", "config.view_optionchange", "jobs.run_job", "config.change_options",
                      "auth.view_user", "auth.add_user", "auth.change_user"],
}


def ensure_roles() -> dict[str, Group]:
    """Create or update the role groups (idempotent; also run by a migration)."""
    groups = {}
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for dotted in perms:
            app, codename = dotted.split(".")
            wanted.append(Permission.objects.get(content_type__app_label=app, codename=codename))
        group.permissions.set(wanted)
        groups[name] = group
    return groups
