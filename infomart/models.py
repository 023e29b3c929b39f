"""The Info Mart's tables: the Interaction Database it reads, GIDB staging,
dimensions, facts, the DATE_TIME calendars and the CTL_ control tables.

Names follow Genesys (docs in ../shared/reference/genesys-facts.md, sections
5-7) in lower case, so raw SQL can name them unquoted on PostgreSQL and
SQLite alike: `INTERACTION_FACT` in a query is the table `interaction_fact`.

Four layers:
1. IDB (`g_*`, `gc_*`): what ICON would write. Every row carries `gsys_seq`
   (insert order), `gsys_useq` (change order: a new value on every insert AND
   every update) and `gsys_ts` (UTC epoch seconds of the last change), which is
   all an incremental extraction needs.
2. GIDB staging (`gidb_*`): the latest extracted version of each IDB row,
   merged on the IDB id (Job_ExtractICON upserts), plus audit keys.
3. The dimensional model: dimensions, facts (the four big ones are range
   partitioned by START_DATE_TIME_KEY on PostgreSQL, see migration 0002) and
   two calendars of identical structure.
4. Control tables (`ctl_*`) with the high-water marks and the queue of
   aggregation ranges. The aggregate tables (AGT_*/AG2_*) are not models: they
   are generated from infomart.hierarchies.

Every time is UTC epoch seconds (integer), as in Genesys (`*_TS` columns);
DATE_TIME keys are the UTC epoch of the 15-minute interval start.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

# --- 1. The Interaction Database (IDB) ----------------------------------------


class IdbRow(models.Model):
    """System columns of every IDB row (ICON's GSYS_* fields)."""

    id = models.BigIntegerField(primary_key=True)
    gsys_seq = models.BigIntegerField(help_text="insert sequence")
    gsys_useq = models.BigIntegerField(help_text="change sequence: bumped by every insert and update")
    gsys_ts = models.BigIntegerField(help_text="UTC epoch seconds of the last change")

    class Meta:
        abstract = True


class GcMediaType(IdbRow):
    name = models.CharField(max_length=64)
    is_online = models.BooleanField(default=True)

    class Meta:
        db_table = "gc_media_type"
        # Job_ExtractICON: rows past the table's high-water mark, in change order.
        indexes = [models.Index(fields=["gsys_useq"], name="gc_media_type_useq")]


class GcGroup(IdbRow):
    name = models.CharField(max_length=255)
    state = models.SmallIntegerField(default=1, help_text="1 enabled, 2 deleted")

    class Meta:
        db_table = "gc_group"
        indexes = [models.Index(fields=["gsys_useq"], name="gc_group_useq")]


class GcAgent(IdbRow):
    """A Person that is an agent (Configuration Server object)."""

    employee_id = models.CharField(max_length=64)
    user_name = models.CharField(max_length=255)
    first_name = models.CharField(max_length=64)
    last_name = models.CharField(max_length=64)
    group_id = models.BigIntegerField(null=True, help_text="main agent group (gc_group.id)")
    state = models.SmallIntegerField(default=1, help_text="1 enabled, 2 deleted")

    class Meta:
        db_table = "gc_agent"
        indexes = [models.Index(fields=["gsys_useq"], name="gc_agent_useq")]


class GcEndpoint(IdbRow):
    """A DN; the generator's are ACD queues (type 5), one media type each."""

    dn = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    type = models.SmallIntegerField(default=5, help_text="5 ACD queue, 1 extension")
    media_type_id = models.BigIntegerField(null=True)
    state = models.SmallIntegerField(default=1, help_text="1 enabled, 2 deleted")

    class Meta:
        db_table = "gc_endpoint"
        indexes = [models.Index(fields=["gsys_useq"], name="gc_endpoint_useq")]


class GIr(IdbRow):
    """Interaction record: the root of an interaction (one per customer contact here)."""

    irid = models.CharField(max_length=50, unique=True)
    state = models.SmallIntegerField(help_text="1 active, 2 terminated")
    created_ts = models.BigIntegerField()
    terminated_ts = models.BigIntegerField(null=True)

    class Meta:
        db_table = "g_ir"
        indexes = [models.Index(fields=["gsys_useq"], name="g_ir_useq")]


class GCall(IdbRow):
    callid = models.CharField(max_length=50, unique=True)
    irid = models.CharField(max_length=50)
    connid = models.CharField(max_length=50)
    calltype = models.SmallIntegerField(help_text="1 internal, 2 inbound, 3 outbound")
    media_type_id = models.BigIntegerField()
    ani = models.CharField(max_length=255, blank=True)
    dnis = models.CharField(max_length=255, blank=True)
    state = models.SmallIntegerField(help_text="1 active, 2 terminated")
    created_ts = models.BigIntegerField()
    terminated_ts = models.BigIntegerField(null=True)

    class Meta:
        db_table = "g_call"
        indexes = [models.Index(fields=["gsys_useq"], name="g_call_useq")]


class GParty(IdbRow):
    """Latest state of a party of a call: the customer, a queue, an agent."""

    partyid = models.CharField(max_length=50, unique=True)
    callid = models.CharField(max_length=50)
    type = models.SmallIntegerField(help_text="1 internal (agent DN), 2 external (customer), 4 queue")
    prole = models.SmallIntegerField(help_text="1 origination, 2 destination, 3 routing/queue")
    endpoint_id = models.BigIntegerField(null=True, help_text="queue DN (gc_endpoint.id)")
    agent_id = models.BigIntegerField(null=True, help_text="agent (gc_agent.id)")
    parent_partyid = models.CharField(max_length=50, blank=True, help_text="the party this one came from")
    state = models.SmallIntegerField(help_text="1 active, 2 terminated")
    end_cause = models.SmallIntegerField(null=True, help_text="1 released, 2 abandoned, 3 diverted, 4 transferred")
    created_ts = models.BigIntegerField()
    terminated_ts = models.BigIntegerField(null=True)

    class Meta:
        db_table = "g_party"
        indexes = [models.Index(fields=["gsys_useq"], name="g_party_useq")]


class GPartyHistory(IdbRow):
    """Events of a party (insert-only): T-Server events as ICON records them."""

    partyid = models.CharField(max_length=50)
    callid = models.CharField(max_length=50)
    pseq = models.IntegerField()
    ccevent = models.SmallIntegerField(
        help_text="1 queued, 2 ringing, 3 established, 4 held, 5 retrieved, 6 released, 7 abandoned, 8 diverted")
    added_ts = models.BigIntegerField()

    class Meta:
        db_table = "g_party_history"
        indexes = [models.Index(fields=["gsys_useq"], name="g_party_history_useq")]


class GLoginSession(IdbRow):
    loginsessionid = models.CharField(max_length=50, unique=True)
    agent_id = models.BigIntegerField()
    media_type_id = models.BigIntegerField()
    state = models.SmallIntegerField(help_text="1 active, 0 ended")
    login_ts = models.BigIntegerField()
    logout_ts = models.BigIntegerField(null=True)

    class Meta:
        db_table = "g_login_session"
        indexes = [models.Index(fields=["gsys_useq"], name="g_login_session_useq")]


class GAgentStateHistory(IdbRow):
    """An agent state within a login session; end_ts is filled when it ends (a late update)."""

    loginsessionid = models.CharField(max_length=50)
    agent_id = models.BigIntegerField()
    media_type_id = models.BigIntegerField()
    state = models.SmallIntegerField(help_text="1 Ready, 2 NotReady, 3 Busy, 4 AfterCallWork")
    callid = models.CharField(max_length=50, null=True, help_text="the call a Busy or AfterCallWork state is for")
    start_ts = models.BigIntegerField()
    end_ts = models.BigIntegerField(null=True)

    class Meta:
        db_table = "g_agent_state_history"
        indexes = [models.Index(fields=["gsys_useq"], name="g_agent_state_hist_useq")]


# Extraction order: configuration first, so facts find their dimensions.
SOURCE_MODELS: tuple[type[IdbRow], ...] = (
    GcMediaType, GcGroup, GcAgent, GcEndpoint,
    GIr, GCall, GParty, GPartyHistory, GLoginSession, GAgentStateHistory,
)
CONFIG_SOURCES = ("gc_media_type", "gc_group", "gc_agent", "gc_endpoint")
EVENT_SOURCES = ("g_ir", "g_call", "g_party", "g_party_history", "g_login_session", "g_agent_state_history")


# --- 2. GIDB staging ------------------------------------------------------------


def _ix(table: str, suffix: str) -> str:
    """An index name within Django's 30 characters."""
    return f"{table[:29 - len(suffix)]}_{suffix}"


def _gidb(source: type[IdbRow], extra_indexes: tuple[tuple[str, ...], ...] = ()) -> type[models.Model]:
    """A GIDB_ staging model mirroring an IDB table, plus audit keys.

    One row per IDB id holding its latest extracted version (Job_ExtractICON
    merges on the id), so Job_TransformGIM always reads a row's current state.
    """
    table = f"gidb_{source._meta.db_table}"
    attrs: dict[str, object] = {"__module__": __name__}
    for f in source._meta.local_fields:
        clone = f.clone()
        if getattr(clone, "_unique", False):
            clone._unique = False  # type: ignore[attr-defined]  # the IDB's natural-key uniqueness stays in the IDB
        attrs[f.name] = clone
    attrs["create_audit_key"] = models.BigIntegerField(help_text="CTL_AUDIT_LOG of the first extraction")
    attrs["update_audit_key"] = models.BigIntegerField(help_text="CTL_AUDIT_LOG of the latest extraction")
    indexes = [
        # Job_TransformGIM: staged rows past its high-water mark, in change order
        # (and Job_MaintainGIM's purge, which only removes transformed rows).
        models.Index(fields=["gsys_useq"], name=_ix(table, "useq")),
    ]
    for fields in extra_indexes:
        # Job_TransformGIM: rebuild the facts of the calls a chunk touched.
        indexes.append(models.Index(fields=list(fields), name=_ix(table, "_".join(fields))))
    attrs["Meta"] = type("Meta", (), {"db_table": table, "indexes": indexes})
    name = "Gidb" + source.__name__
    return type(name, (models.Model,), attrs)


GidbGcMediaType = _gidb(GcMediaType)
GidbGcGroup = _gidb(GcGroup)
GidbGcAgent = _gidb(GcAgent)
GidbGcEndpoint = _gidb(GcEndpoint)
GidbGIr = _gidb(GIr, (("irid",),))
GidbGCall = _gidb(GCall, (("callid",), ("irid",)))
GidbGParty = _gidb(GParty, (("callid",),))
GidbGPartyHistory = _gidb(GPartyHistory, (("callid",),))
GidbGLoginSession = _gidb(GLoginSession)
GidbGAgentStateHistory = _gidb(GAgentStateHistory, (("callid",),))


# --- 3. Dimensions ----------------------------------------------------------------


class Audited(models.Model):
    create_audit_key = models.BigIntegerField(default=-1, help_text="CTL_AUDIT_LOG of the insert")
    update_audit_key = models.BigIntegerField(default=0, help_text="CTL_AUDIT_LOG of the latest change")

    class Meta:
        abstract = True


class MediaType(Audited):
    media_type_key = models.IntegerField(primary_key=True, help_text="= the media type's configuration DBID")
    media_name = models.CharField(max_length=64)
    media_name_code = models.CharField(max_length=64)
    is_online = models.BooleanField()

    class Meta:
        db_table = "media_type"
        indexes = [models.Index(fields=["update_audit_key"], name="media_type_audit")]  # export


class InteractionType(models.Model):
    interaction_type_key = models.IntegerField(primary_key=True, help_text="= IDB CallType")
    interaction_type = models.CharField(max_length=32)
    interaction_type_code = models.CharField(max_length=32)

    class Meta:
        db_table = "interaction_type"


class ResourceState(models.Model):
    resource_state_key = models.IntegerField(primary_key=True, help_text="= IDB agent state code")
    state_type = models.CharField(max_length=64)
    state_type_code = models.CharField(max_length=32)
    state_name = models.CharField(max_length=64)
    state_name_code = models.CharField(max_length=32)

    class Meta:
        db_table = "resource_state"


class Group(Audited):
    group_key = models.BigIntegerField(primary_key=True, help_text="= the group's configuration DBID")
    group_name = models.CharField(max_length=255)
    group_type = models.CharField(max_length=32, default="Agent")

    class Meta:
        db_table = "group_"
        indexes = [models.Index(fields=["update_audit_key"], name="group_audit")]


# RESOURCE_KEY = type code * 2^32 + configuration DBID: deterministic, so a
# re-run after a failure produces the same keys (no sequence gaps), and agents
# and queues with equal DBIDs never collide.
RESOURCE_AGENT = 1
RESOURCE_QUEUE = 2
RESOURCE_KEY_FACTOR = 4294967296


class Resource(Audited):
    resource_key = models.BigIntegerField(primary_key=True)
    resource_type = models.CharField(max_length=32, help_text="Agent or Queue")
    resource_type_code = models.CharField(max_length=32, help_text="AGENT or QUEUE")
    resource_name = models.CharField(max_length=255)
    resource_cfg_dbid = models.BigIntegerField()
    agent_first_name = models.CharField(max_length=64, blank=True)
    agent_last_name = models.CharField(max_length=64, blank=True)
    employee_id = models.CharField(max_length=64, blank=True)
    group_key = models.BigIntegerField(null=True, help_text="main agent group")

    class Meta:
        db_table = "resource_"
        indexes = [models.Index(fields=["update_audit_key"], name="resource_audit")]


# --- 3b. Calendars ------------------------------------------------------------------


class Calendar(models.Model):
    """One 15-minute interval of a local calendar (Genesys DATE_TIME structure).

    The *_key columns of the enclosing hour/day/month/quarter/year are the UTC
    epoch of that interval's local start, so rolling up a level is a GROUP BY
    on one column, and a day ends at local midnight whatever DST does.
    """

    date_time_key = models.BigIntegerField(primary_key=True, help_text="UTC epoch of the interval start")
    calendar_tz = models.CharField(max_length=64)
    utc_offset_minutes = models.SmallIntegerField()
    local_datetime = models.CharField(max_length=16, help_text="YYYY-MM-DD HH:MI, local wall clock")
    cal_date = models.DateField()
    cal_year_num = models.SmallIntegerField()
    cal_quarter_num = models.SmallIntegerField()
    cal_month_num = models.SmallIntegerField()
    cal_day_num = models.SmallIntegerField()
    cal_day_of_week_num = models.SmallIntegerField(help_text="1 Sunday ... 7 Saturday")
    cal_hour_num = models.SmallIntegerField()
    cal_minute_num = models.SmallIntegerField()
    label_yyyy = models.CharField(max_length=4)
    label_yyyy_q = models.CharField(max_length=7)
    label_yyyy_mm = models.CharField(max_length=7)
    label_yyyy_mm_dd = models.CharField(max_length=10)
    hour_key = models.BigIntegerField()
    day_key = models.BigIntegerField()
    month_key = models.BigIntegerField()
    quarter_key = models.BigIntegerField()
    year_key = models.BigIntegerField()

    class Meta:
        abstract = True


class DateTime(Calendar):
    """DATE_TIME, the default calendar, in the [date-time] date-time-tz zone."""

    class Meta:
        db_table = "date_time"


class DateTimeAgg(Calendar):
    """The aggregation calendar, in the [schedule] timezone zone: AGT levels roll up on it.

    Same structure as DATE_TIME (a Genesys custom calendar); both are the same
    when the two options name the same zone.
    """

    class Meta:
        db_table = "date_time_agg"
        # Aggregation: the intervals of a level in a range, and the end of one
        # (MAX(date_time_key) WHERE <level>_key = X, read from the index alone).
        indexes = [models.Index(fields=[f, "date_time_key"], name=f"date_time_agg_{f}")
                   for f in ("hour_key", "day_key", "month_key", "quarter_key", "year_key")]


# --- 3c. Facts ------------------------------------------------------------------------
# The four big facts are partitioned by START_DATE_TIME_KEY on PostgreSQL
# (migration 0002): their real primary key is (id, start_date_time_key).


class Fact(Audited):
    start_date_time_key = models.BigIntegerField()
    end_date_time_key = models.BigIntegerField(null=True, help_text="NULL while active")
    start_ts = models.BigIntegerField()
    end_ts = models.BigIntegerField(null=True, help_text="NULL while active")
    media_type_key = models.IntegerField()
    interaction_type_key = models.IntegerField()

    class Meta:
        abstract = True


# STATUS of INTERACTION_FACT (a smallint in Genesys; the values are ours).
IXN_COMPLETED, IXN_ACTIVE, IXN_TERMINATED_BY_AGE = 0, 1, 2


class InteractionFact(Fact):
    interaction_id = models.BigIntegerField(primary_key=True, help_text="= G_IR.ID of the root interaction")
    media_server_ixn_guid = models.CharField(max_length=50, help_text="CallID")
    media_server_root_ixn_guid = models.CharField(max_length=50, help_text="IRID")
    source_address = models.CharField(max_length=255, blank=True)
    target_address = models.CharField(max_length=255, blank=True)
    status = models.SmallIntegerField(default=IXN_ACTIVE, help_text="0 completed, 1 active, 2 ended by age")

    class Meta:
        db_table = "interaction_fact"
        indexes = [models.Index(fields=["start_date_time_key"], name="if_start"),
                   models.Index(fields=["update_audit_key"], name="if_audit"),  # export
                   # Job_TransformGIM: active interactions older than days-to-keep-active-facts.
                   models.Index(fields=["start_ts"], condition=Q(end_ts__isnull=True), name="if_open")]


class InteractionResourceFact(Fact):
    """An agent's part in an interaction (IRF), from ringing to release."""

    interaction_resource_id = models.BigIntegerField(primary_key=True, help_text="= G_PARTY.ID")
    interaction_id = models.BigIntegerField()
    resource_key = models.BigIntegerField()
    queue_resource_key = models.BigIntegerField(null=True, help_text="queue that distributed it")
    mediation_segment_id = models.BigIntegerField(null=True)
    technical_result = models.CharField(max_length=32, help_text="COMPLETED, TRANSFERRED, ACTIVE")
    accepted = models.SmallIntegerField(help_text="1 when the agent answered")
    ring_duration = models.IntegerField(default=0)
    talk_duration = models.IntegerField(default=0)
    hold_duration = models.IntegerField(default=0)
    after_call_work_duration = models.IntegerField(default=0)

    class Meta:
        db_table = "interaction_resource_fact"
        indexes = [models.Index(fields=["start_date_time_key"], name="irf_start"),
                   models.Index(fields=["update_audit_key"], name="irf_audit")]


class MediationSegmentFact(Fact):
    """Time in a queue (MSF): from entering until abandoned or distributed."""

    mediation_segment_id = models.BigIntegerField(primary_key=True, help_text="= G_PARTY.ID of the queue party")
    interaction_id = models.BigIntegerField()
    resource_key = models.BigIntegerField(help_text="the queue")
    target_irf_id = models.BigIntegerField(null=True, help_text="the agent segment it was distributed to")
    technical_result = models.CharField(max_length=32, help_text="DIVERTED, ABANDONED, ACTIVE")
    is_last_entry = models.SmallIntegerField(help_text="1 for the interaction's last queue")
    mediation_duration = models.IntegerField(null=True)
    accepted = models.SmallIntegerField(help_text="1 when the target agent answered")
    accept_duration = models.IntegerField(null=True, help_text="entering the queue to the answer")
    target_handle_duration = models.IntegerField(default=0, help_text="talk + hold + wrap of the target agent")

    class Meta:
        db_table = "mediation_segment_fact"
        indexes = [models.Index(fields=["start_date_time_key"], name="msf_start"),
                   models.Index(fields=["update_audit_key"], name="msf_audit")]


class SmResStateFact(Audited):
    """A summarized agent state; end capped at max-state-duration after its start."""

    sm_res_state_fact_key = models.BigIntegerField(primary_key=True, help_text="= G_AGENT_STATE_HISTORY.ID")
    start_date_time_key = models.BigIntegerField()
    end_date_time_key = models.BigIntegerField(null=True)
    start_ts = models.BigIntegerField()
    end_ts = models.BigIntegerField(null=True)
    resource_key = models.BigIntegerField()
    media_type_key = models.IntegerField()
    resource_state_key = models.IntegerField()
    total_duration = models.IntegerField(null=True)

    class Meta:
        db_table = "sm_res_state_fact"
        indexes = [models.Index(fields=["start_date_time_key"], name="smstate_start"),
                   models.Index(fields=["update_audit_key"], name="smstate_audit"),
                   # Job_TransformGIM: open states older than max-state-duration.
                   models.Index(fields=["start_ts"], condition=Q(end_ts__isnull=True), name="smstate_open")]


class SmResSessionFact(Audited):
    """An agent login session per media type (small: not partitioned)."""

    sm_res_session_fact_key = models.BigIntegerField(primary_key=True, help_text="= G_LOGIN_SESSION.ID")
    start_date_time_key = models.BigIntegerField()
    end_date_time_key = models.BigIntegerField(null=True)
    start_ts = models.BigIntegerField()
    end_ts = models.BigIntegerField(null=True)
    resource_key = models.BigIntegerField()
    media_type_key = models.IntegerField()
    total_duration = models.IntegerField(null=True)

    class Meta:
        db_table = "sm_res_session_fact"
        indexes = [models.Index(fields=["start_date_time_key"], name="smsess_start"),
                   models.Index(fields=["end_ts"], name="smsess_end"),  # aggregation: sessions overlapping a range
                   models.Index(fields=["update_audit_key"], name="smsess_audit")]


PARTITIONED_FACTS = ("interaction_fact", "interaction_resource_fact", "mediation_segment_fact", "sm_res_state_fact")


# --- 4. Control tables ----------------------------------------------------------------


class CtlAuditLog(models.Model):
    """One row per committed chunk (logical transaction); facts point here by audit key."""

    audit_key = models.BigAutoField(primary_key=True)
    job_id = models.CharField(max_length=64, help_text="JobRun id")
    job_name = models.CharField(max_length=32)
    created = models.DateTimeField()
    created_ts = models.BigIntegerField()
    min_start_date_time_key = models.BigIntegerField(null=True)
    max_start_date_time_key = models.BigIntegerField(null=True)
    max_chunk_ts = models.BigIntegerField(null=True)
    data_source_key = models.IntegerField(default=1)
    row_count = models.IntegerField(default=0)

    class Meta:
        db_table = "ctl_audit_log"
        indexes = [models.Index(fields=["created_ts"], name="ctl_audit_created")]  # purge


class CtlExtractHistory(models.Model):
    """One row per committed extraction chunk of a source table; the newest row's MAX_USEQ is its mark."""

    table_name = models.CharField(max_length=255)
    data_source_key = models.IntegerField(default=1)
    data_source_type = models.IntegerField(default=1)
    row_count = models.IntegerField()
    max_useq = models.BigIntegerField(help_text="high-water mark: last GSYS_USEQ extracted")
    max_ts = models.BigIntegerField(null=True, help_text="latest GSYS_TS extracted (UTC epoch)")
    extract_start_time = models.DateTimeField()
    extract_end_time = models.DateTimeField()
    job_id = models.CharField(max_length=64)
    job_name = models.CharField(max_length=32, default="Job_ExtractICON")
    create_audit_key = models.BigIntegerField()
    created_ts = models.BigIntegerField()

    class Meta:
        db_table = "ctl_extract_history"
        indexes = [models.Index(fields=["table_name", "-max_useq"], name="ctl_extract_mark"),  # the mark
                   models.Index(fields=["created_ts"], name="ctl_extract_created")]  # purge


class CtlTransformHistory(models.Model):
    """One row per staging table per committed transformation chunk; HWM_VALUE is its mark."""

    job_id = models.CharField(max_length=64)
    hwm_name = models.CharField(max_length=255, help_text="the GIDB table")
    hwm_value = models.BigIntegerField(help_text="last GSYS_USEQ of that table transformed")
    row_count = models.IntegerField()
    transform_start_time = models.DateTimeField()
    transform_end_time = models.DateTimeField()
    audit_key = models.BigIntegerField()
    created_ts = models.BigIntegerField()

    class Meta:
        db_table = "ctl_transform_history"
        indexes = [models.Index(fields=["hwm_name", "-hwm_value"], name="ctl_transform_mark"),
                   models.Index(fields=["created_ts"], name="ctl_transform_created")]


class CtlPendingAgg(models.Model):
    """A UTC range [start_key, end_key) whose aggregates Job_AggregateGIM must recompute."""

    start_key = models.BigIntegerField()
    end_key = models.BigIntegerField()
    audit_key = models.BigIntegerField(null=True)
    created_ts = models.BigIntegerField()

    class Meta:
        db_table = "ctl_pending_agg"


class CtlAggCalendar(models.Model):
    """The zone the aggregates were computed in; another zone means rebuilding them."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    timezone = models.CharField(max_length=64)

    class Meta:
        db_table = "ctl_agg_calendar"


class CtlExportRun(models.Model):
    """One export plan: facts changed by transform audit keys (audit_lo, audit_hi], cut in windows.

    The newest COMPLETE plan's audit_hi is the export high-water mark; an
    unfinished plan is resumed by the next Job_ExportGIM from done_through.
    """

    job_id = models.CharField(max_length=64)
    audit_lo = models.BigIntegerField()
    audit_hi = models.BigIntegerField()
    chunk_size_seconds = models.IntegerField()
    windows = models.JSONField(help_text="window starts (UTC epoch) to export, in order")
    done_count = models.IntegerField(default=0, help_text="windows written, a prefix of `windows`")
    complete = models.BooleanField(default=False)
    created_ts = models.BigIntegerField()
    completed_ts = models.BigIntegerField(null=True)

    class Meta:
        db_table = "ctl_export_run"


class CtlExportHistory(models.Model):
    """One exported chunk: a folder with its CSV files and manifest."""

    run = models.ForeignKey(CtlExportRun, on_delete=models.CASCADE, related_name="chunks")
    job_id = models.CharField(max_length=64)
    folder = models.CharField(max_length=255)
    window_start = models.BigIntegerField(null=True, help_text="NULL for the dimensions chunk")
    window_end = models.BigIntegerField(null=True)
    row_count = models.IntegerField()
    manifest_sha1 = models.CharField(max_length=40)
    created_ts = models.BigIntegerField()

    class Meta:
        db_table = "ctl_export_history"


# --- The generator's own bookkeeping (not part of the IDB, never extracted) ------------


class IdbDeferred(models.Model):
    """A change ICON will write later: the rest of a call or a state that outlives the generated period."""

    due_ts = models.BigIntegerField()
    table_name = models.CharField(max_length=64)
    op = models.CharField(max_length=8, help_text="insert or update")
    row_id = models.BigIntegerField()
    payload = models.JSONField()

    class Meta:
        db_table = "idb_deferred"
        indexes = [models.Index(fields=["due_ts", "id"], name="idb_deferred_due")]


class IdbGeneratorState(models.Model):
    """The generator's counters: next ids, the GSYS_USEQ counter, where it stopped, agents' next free time."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    useq = models.BigIntegerField(default=0)
    next_ids = models.JSONField(default=dict)
    last_end_ts = models.BigIntegerField(null=True)
    agent_free_ts = models.JSONField(default=dict)

    class Meta:
        db_table = "idb_generator_state"
