"""Static dimension rows, and (PostgreSQL only) the big facts as range-partitioned tables."""

from __future__ import annotations

from typing import Any

from django.db import migrations

INTERACTION_TYPES = [(1, "Internal", "INTERNAL"), (2, "Inbound", "INBOUND"), (3, "Outbound", "OUTBOUND")]
# Keys are the IDB agent state codes; codes as in sm-resource-state-priority.
RESOURCE_STATES = [(1, "Ready", "READY"), (2, "NotReady", "NOT_READY"), (3, "Busy", "BUSY"),
                   (4, "AfterCallWork", "ACW")]


def seed(apps: Any, schema_editor: Any) -> None:
    InteractionType = apps.get_model("infomart", "InteractionType")
    ResourceState = apps.get_model("infomart", "ResourceState")
    for key, name, code in INTERACTION_TYPES:
        InteractionType.objects.update_or_create(
            interaction_type_key=key, defaults={"interaction_type": name, "interaction_type_code": code})
    for key, name, code in RESOURCE_STATES:
        ResourceState.objects.update_or_create(
            resource_state_key=key,
            defaults={"state_type": name, "state_type_code": code, "state_name": name, "state_name_code": code})


def partition(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    from infomart.partitions import convert_to_partitioned
    from infomart.sql import FACT_PK

    for table in ("interaction_fact", "interaction_resource_fact", "mediation_segment_fact", "sm_res_state_fact"):
        convert_to_partitioned(schema_editor, table, FACT_PK[table])


class Migration(migrations.Migration):
    dependencies = [("infomart", "0001_initial")]
    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(partition, migrations.RunPython.noop),
    ]
