"""Create the Viewer, Operator and Administrator groups with their permissions.

Permissions are normally created after all migrations (post_migrate), so this
migration creates them first; console.roles.ensure_roles() does the same at
runtime and both are idempotent.
"""

from django.db import migrations

ROLE_PERMISSIONS = {
    "Viewer": ["jobs.view_jobrun", "config.view_optionchange"],
    "Operator": ["jobs.view_jobrun", "config.view_optionchange", "jobs.run_job"],
    "Administrator": ["jobs.view_jobrun", "config.view_optionchange", "jobs.run_job", "config.change_options",
                      "auth.view_user", "auth.add_user", "auth.change_user"],
}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for dotted in perms:
            app, codename = dotted.split(".")
            wanted.append(Permission.objects.get(content_type__app_label=app, codename=codename))
        group.permissions.set(wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("jobs", "0001_initial"),
        ("config", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
