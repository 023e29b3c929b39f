"""A deterministic contact center that writes the Interaction Database (IDB).

The traffic is a discrete-event simulation, so queue waits, abandons and
agent states are consequences of each other rather than independent dice:

- Arrivals: a Poisson process whose hourly rate follows a weekday profile
  (morning and afternoon peaks, quiet nights, weekends at 55 %) in the `tz`
  zone, averaging `interactions_per_hour` over a week. Each interaction picks
  a queue (weighted); the queue fixes its media (the last queue is email and
  the one before chat when there are at least three; the rest are voice).
- Agents work one shift a day (8.5 h; shift starts chosen so that staffing
  follows the daily demand curve; on weekends 55 % of agents work) with a
  30-minute lunch and two 15-minute breaks (NotReady). An agent takes every
  queue of its main media; chat and email agents also take voice.
- Routing: a waiting interaction goes to the longest-idle Ready agent with the
  skill; a freed agent takes the longest-waiting interaction of its skills.
- A waiting customer abandons after a patience drawn per media (exponential,
  voice 90 s, chat 180 s, email never). Ring 3-10 s, talk time lognormal,
  15 % of calls put on hold, wrap-up (AfterCallWork) after each call, 6 % of
  answered voice calls transferred to another voice queue (a second queue
  and a second agent segment). The mean handle time is derived from the
  staffing (square-root staffing: a team of N agents on duty is busy about
  1 - 1.3/sqrt(N) of its time), so waits and abandons stay those of a
  reasonably staffed center whatever the arguments.
- Agent states: Ready, Busy (ringing to release), AfterCallWork, NotReady;
  login sessions from shift start to shift end (after the current call).

Rows are written as ICON would have written them by the generation end (the
horizon): a call still going on at the horizon is written active, and its
final version is kept in IDB_DEFERRED and applied by a later run (the next
batch, or the live mode's ticks) once its time has come: a late update with a
new GSYS_USEQ. Same arguments, same rows.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from infomart import sql
from infomart.models import IdbDeferred, IdbGeneratorState

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "gc_media_type": ("id", "name", "is_online"),
    "gc_group": ("id", "name", "state"),
    "gc_agent": ("id", "employee_id", "user_name", "first_name", "last_name", "group_id", "state"),
    "gc_endpoint": ("id", "dn", "name", "type", "media_type_id", "state"),
    "g_ir": ("id", "irid", "state", "created_ts", "terminated_ts"),
    "g_call": ("id", "callid", "irid", "connid", "calltype", "media_type_id", "ani", "dnis", "state", "created_ts",
               "terminated_ts"),
    "g_party": ("id", "partyid", "callid", "type", "prole", "endpoint_id", "agent_id", "parent_partyid", "state",
                "end_cause", "created_ts", "terminated_ts"),
    "g_party_history": ("id", "partyid", "callid", "pseq", "ccevent", "added_ts"),
    "g_login_session": ("id", "loginsessionid", "agent_id", "media_type_id", "state", "login_ts", "logout_ts"),
    "g_agent_state_history": ("id", "loginsessionid", "agent_id", "media_type_id", "state", "callid", "start_ts",
                              "end_ts"),
}
# The values a still-active row has in the columns its final version fills in.
ACTIVE: dict[str, dict[str, object]] = {
    "g_ir": {"state": 1, "terminated_ts": None},
    "g_call": {"state": 1, "terminated_ts": None},
    "g_party": {"state": 1, "end_cause": None, "terminated_ts": None},
    "g_login_session": {"state": 1, "logout_ts": None},
    "g_agent_state_history": {"end_ts": None},
}

MEDIA = ((1, "voice", True), (2, "chat", True), (3, "email", False))
VOICE, CHAT, EMAIL = 1, 2, 3
PATIENCE = {VOICE: 90.0, CHAT: 180.0, EMAIL: None}
HANDLE_FACTOR = {VOICE: 1.0, CHAT: 1.3, EMAIL: 2.0}
QUEUE_NAMES = ("Sales", "Support", "Billing", "Retention", "Technical", "Orders", "Returns", "Claims", "Loyalty",
               "Accounts", "Payments", "Shipping")
FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jon", "Kira", "Luis", "Mia",
         "Noah", "Olga", "Pavel", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Wes", "Xia", "Yusuf", "Zoe")
LAST = ("Novak", "Silva", "Okafor", "Larsen", "Rossi", "Tanaka", "Moreau", "Schmidt", "Haddad", "Kowalski",
        "Nguyen", "Garcia", "Ivanova", "Murphy", "Dubois", "Berg", "Costa", "Weber", "Ali", "Fischer")
# Relative arrivals per local hour of a weekday: morning and afternoon peaks.
HOURLY = (0.15, 0.10, 0.08, 0.08, 0.10, 0.20, 0.45, 0.80, 1.30, 1.70, 1.90, 1.85, 1.60, 1.55, 1.75, 1.70, 1.50,
          1.25, 1.00, 0.80, 0.60, 0.45, 0.30, 0.20)
WEEKEND = 0.55
SHIFT = 8 * 3600 + 1800
AGENT_BASE, QUEUE_BASE, GROUP_BASE = 1000, 5000, 100
READY, NOT_READY, BUSY, ACW = 1, 2, 3, 4
# G_PARTY_HISTORY CCEvent codes (the model's help text).
QUEUED, RINGING, ESTABLISHED, HELD, RETRIEVED, RELEASED, ABANDONED, DIVERTED = 1, 2, 3, 4, 5, 6, 7, 8


def profile(local: datetime) -> float:
    """Relative arrival rate at a local time (1.0 = the weekly average)."""
    mean = (sum(HOURLY) * (5 + 2 * WEEKEND)) / (24 * 7)
    return HOURLY[local.hour] * (WEEKEND if local.weekday() >= 5 else 1.0) / mean


def shift_starts(n: int) -> list[int]:
    """Start hours of n 8.5-hour shifts whose coverage follows the daily demand.

    Greedy from the quietest hour: open shifts at an hour until it is covered
    to a target proportional to its demand; the scale of the target is chosen
    (bisection) so that exactly about n shifts are needed. Sorted by start.
    """
    if n <= 0:
        return []
    quiet = min(range(24), key=lambda h: HOURLY[h])
    order = [(quiet + k) % 24 for k in range(24)]

    def greedy(scale: float) -> list[int]:
        cover = [0.0] * 24
        starts: list[int] = []
        for h in order:
            while cover[h] < HOURLY[h] * scale and len(starts) <= 4 * n:
                starts.append(h)
                for k in range(9):
                    cover[(h + k) % 24] += 1.0 if k < 8 else 0.5
        return starts

    lo, hi = 0.0, float(n)
    for _ in range(40):
        mid = (lo + hi) / 2
        if len(greedy(mid)) > n:
            hi = mid
        else:
            lo = mid
    starts = greedy(lo)
    return sorted(starts + [order[len(starts) % 24]] * (n - len(starts)))


@dataclass(frozen=True)
class Layout:
    """The configuration objects: agents, queues, groups, media."""

    agents: int
    queues: int

    def queue_media(self, q: int) -> int:
        if self.queues >= 3 and q == self.queues - 1:
            return EMAIL
        if self.queues >= 3 and q == self.queues - 2:
            return CHAT
        return VOICE

    def queue_weight(self, q: int) -> float:
        return (0.35 if self.queue_media(q) == EMAIL else 0.6 if self.queue_media(q) == CHAT else 1.0) / (1 + 0.15 * q)

    def skills(self, a: int) -> tuple[int, ...]:
        """An agent's queues: every queue of its main media; chat and email agents also take voice."""
        media = self.queue_media(a % self.queues)
        own = tuple(q for q in range(self.queues) if self.queue_media(q) == media)
        voice = tuple(q for q in range(self.queues) if self.queue_media(q) == VOICE) if media != VOICE else ()
        return own + voice

    def config_rows(self) -> dict[str, list[tuple[object, ...]]]:
        rows: dict[str, list[tuple[object, ...]]] = defaultdict(list)
        for mid, name, online in MEDIA:
            rows["gc_media_type"].append((mid, name, online))
        for q in range(self.queues):
            round_ = f" {q // len(QUEUE_NAMES) + 1}" if q >= len(QUEUE_NAMES) else ""
            name = QUEUE_NAMES[q % len(QUEUE_NAMES)] + round_
            rows["gc_group"].append((GROUP_BASE + q + 1, f"{name} Team", 1))
            rows["gc_endpoint"].append((QUEUE_BASE + q + 1, f"{7000 + q + 1}", name, 5, self.queue_media(q), 1))
        for a in range(self.agents):
            first, last = FIRST[a % len(FIRST)], LAST[(a * 7) % len(LAST)]
            rows["gc_agent"].append((AGENT_BASE + a + 1, f"E{a + 1:05d}", f"{first.lower()}.{last.lower()}{a + 1}",
                                     first, last, GROUP_BASE + (a % self.queues) + 1, 1))
        return rows


# A row as it will finally be, when it first appears, and when it reaches that final form.
Record = tuple[str, tuple[object, ...], int, int]


class Ids:
    """Next id per table, kept in IDB_GENERATOR_STATE between runs."""

    def __init__(self, start: dict[str, int]):
        self.next = {t: int(start.get(t, 1)) for t in TABLE_COLUMNS}

    def take(self, table: str) -> int:
        n = self.next[table]
        self.next[table] = n + 1
        return n


@dataclass
class Ixn:
    id: int
    callid: str
    irid: str
    media: int
    arrival: float
    ani: str
    dnis: str
    patience: float | None
    parties: list[tuple[object, ...]] = field(default_factory=list)  # final g_party rows
    history: list[tuple[str, int, float]] = field(default_factory=list)  # (partyid, ccevent, t)
    entries: int = 0  # queues entered
    queue_party: tuple[int, str, int, float] | None = None  # (id, partyid, queue, entered)
    waiting: bool = False
    last_partyid: str = ""


@dataclass
class Agent:
    index: int
    id: int
    skills: tuple[int, ...]
    media: int
    session: tuple[int, str, float] | None = None  # (id, loginsessionid, login t)
    state: int = 0  # 0 offline
    state_since: float = 0.0
    ready_since: float = 0.0
    logout_due: bool = False
    break_due: float = 0.0  # seconds of NotReady owed
    free_at: float = 0.0


class Simulation:
    """The contact center from `start`; `advance(t)` moves it to time t."""

    def __init__(self, layout: Layout, *, seed: int, start: float, tz: ZoneInfo, ids: Ids,
                 interactions_per_hour: float, agent_free: dict[int, float], shifts: bool = True,
                 rate_per_minute: float | None = None):
        self.layout, self.tz, self.ids = layout, tz, ids
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = start
        self.shifts = shifts
        self.rate_per_minute = rate_per_minute
        self.iph = interactions_per_hour
        self.records: list[Record] = []
        self.events: list[tuple[float, int, str, object]] = []
        self._seq = 0
        self.queues: list[deque[Ixn]] = [deque() for _ in range(layout.queues)]
        self.ready: dict[int, Agent] = {}
        self.weights = [layout.queue_weight(q) for q in range(layout.queues)]
        self.voice_queues = [q for q in range(layout.queues) if layout.queue_media(q) == VOICE]
        self.agents = []
        for a in range(layout.agents):
            skills = layout.skills(a)
            self.agents.append(Agent(a, AGENT_BASE + a + 1, skills, layout.queue_media(skills[0]),
                                     free_at=agent_free.get(AGENT_BASE + a + 1, 0.0)))
        # Mean handle time (ring + talk + hold + wrap) from the staffing.
        if rate_per_minute:
            per_day = rate_per_minute * 60 * 24
            agent_seconds = layout.agents * 86400 * 0.9
        else:
            per_day = interactions_per_hour * 24
            agent_seconds = layout.agents * (5 + 2 * WEEKEND) / 7 * (SHIFT - 3600)
        # Square-root staffing: a team of N on duty can be busy about 1 - 1.3 / sqrt(N) of
        # its time before waits explode; small teams need more slack than big ones.
        on_duty = max(agent_seconds / 86400, 1.0)
        occupancy = min(0.8, max(0.35, 1 - 1.3 / math.sqrt(on_duty)))
        self.mean_handle = min(900.0, max(30.0, occupancy * agent_seconds / max(per_day, 1.0)))
        self.arrivals_until = start
        self.planned_days: set[date] = set()
        self.stopping_at: float | None = None

    # --- scheduling ---------------------------------------------------------
    def at(self, t: float, kind: str, data: object) -> None:
        self._seq += 1
        heapq.heappush(self.events, (t, self._seq, kind, data))

    def plan_shifts(self, until: float) -> None:
        """Shift events of every local day that starts before `until`."""
        first = datetime.fromtimestamp(self.now, UTC).astimezone(self.tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(until, UTC).astimezone(self.tz).date()
        day = first
        while day <= last:
            if day not in self.planned_days:
                self.planned_days.add(day)
                self._plan_day(day)
            day += timedelta(days=1)

    def _plan_day(self, day: date) -> None:
        rng = random.Random(self.seed * 1_000_003 + day.toordinal())
        # Rotate who works and who gets which shift from day to day; on weekends a
        # share of the agents matching the weekend traffic works.
        shift = day.toordinal() % len(self.agents)
        working = self.agents[shift:] + self.agents[:shift]
        if day.weekday() >= 5:
            working = working[:max(1, math.ceil(len(working) * WEEKEND))]
        for agent, hour in zip(working, shift_starts(len(working)), strict=False):
            local = datetime(day.year, day.month, day.day, tzinfo=self.tz) + timedelta(hours=hour)
            begin = local.timestamp() + rng.uniform(0, 900)
            end = begin + SHIFT
            if end <= max(self.now, agent.free_at):
                continue
            self.at(max(begin, self.now, agent.free_at), "login", agent)
            for offset, dur in ((2 * 3600, 900), (4 * 3600, 1800), (6.5 * 3600, 900)):
                self.at(begin + offset + rng.uniform(0, 900), "break", (agent, dur))
            self.at(end, "logout", agent)

    def plan_arrivals(self, until: float) -> None:
        """Poisson arrivals in [arrivals_until, until), hour by hour (or at the live rate)."""
        t = self.arrivals_until
        while t < until:
            step_end = min(until, (math.floor(t / 3600) + 1) * 3600)
            if self.rate_per_minute:
                lam = self.rate_per_minute * (step_end - t) / 60
            else:
                local = datetime.fromtimestamp(t, UTC).astimezone(self.tz)
                lam = self.iph * profile(local) * (step_end - t) / 3600
            n = self._poisson(lam)
            for at in sorted(self.rng.uniform(t, step_end) for _ in range(n)):
                self.at(at, "arrival", None)
            t = step_end
        self.arrivals_until = max(self.arrivals_until, until)

    def _poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 50:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        k, p, limit = 0, 1.0, math.exp(-lam)
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    # --- running --------------------------------------------------------------
    def advance(self, until: float, *, arrivals: bool = True) -> None:
        """Process every event before `until` (planning arrivals and shifts up to it)."""
        if arrivals:
            self.plan_arrivals(until)
        if self.shifts:
            self.plan_shifts(until)
        while self.events and self.events[0][0] < until:
            t, _, kind, data = heapq.heappop(self.events)
            self.now = t
            getattr(self, f"on_{kind}")(t, data)
        self.now = max(self.now, until)

    def drain(self) -> float:
        """No more arrivals or logins: serve who waits, then everyone logs out; the end time."""
        self.stopping_at = self.now
        for agent in self.agents:
            if agent.state == READY:
                self._logout(agent, self.now)
        self.events = [e for e in self.events if e[2] not in ("arrival", "login", "logout", "break")]
        heapq.heapify(self.events)
        while self.events:
            t, _, kind, data = heapq.heappop(self.events)
            self.now = t
            getattr(self, f"on_{kind}")(t, data)
        # Whoever still waits has no agent left: they abandon when their patience ends.
        for q in self.queues:
            while q:
                ixn = q.popleft()
                if ixn.waiting:
                    self._abandon(ixn, self.now + (ixn.patience or 600.0))
        for agent in self.agents:
            if agent.state:
                self._logout(agent, max(self.now, agent.state_since), was_ready=agent.state == READY)
        return self.now

    # --- events ------------------------------------------------------------------
    def on_login(self, t: float, agent: Agent) -> None:
        if agent.state or self.stopping_at is not None:
            return
        sid = self.ids.take("g_login_session")
        agent.session = (sid, f"S{sid:015X}", t)
        agent.logout_due = False
        agent.break_due = 0.0
        self._become_ready(agent, t)

    def on_logout(self, t: float, agent: Agent) -> None:
        if not agent.state:
            return
        if agent.state == READY:
            self._logout(agent, t)
        else:
            agent.logout_due = True

    def on_break(self, t: float, data: tuple[Agent, float]) -> None:
        agent, dur = data
        if agent.state == READY:
            self._start_break(agent, t, dur)
        elif agent.state:
            agent.break_due = dur

    def on_break_end(self, t: float, agent: Agent) -> None:
        self._close_state(agent, t)
        self._after_work(agent, t)

    def on_done(self, t: float, agent: Agent) -> None:  # after-call work ends
        self._after_work(agent, t)

    def on_arrival(self, t: float, _data: object) -> None:
        q = self.rng.choices(range(self.layout.queues), self.weights)[0]
        media = self.layout.queue_media(q)
        iid = self.ids.take("g_ir")
        patience = PATIENCE[media]
        ixn = Ixn(id=iid, callid=f"C{iid:016X}", irid=f"IR{iid:014X}", media=media, arrival=t,
                  ani=f"+1555{(iid * 7919) % 10_000_000:07d}", dnis=f"{7000 + q + 1}",
                  patience=self.rng.expovariate(1 / patience) if patience else None)
        pid = self.ids.take("g_party")
        ixn.last_partyid = f"P{pid:015X}"
        # The customer's own party: external, the origination of the call.
        ixn.parties.append((pid, ixn.last_partyid, ixn.callid, 2, 1, None, None, "", 2, 1, int(t), None))
        self._enter_queue(ixn, q, t)

    def on_enter(self, t: float, data: tuple[Ixn, int]) -> None:  # a transfer arrives in its next queue
        self._enter_queue(data[0], data[1], t)

    def on_abandon(self, t: float, data: tuple[Ixn, int]) -> None:
        ixn, entry = data
        if ixn.waiting and ixn.entries == entry:
            self._abandon(ixn, t)

    # --- mechanics ---------------------------------------------------------------
    def _enter_queue(self, ixn: Ixn, q: int, t: float) -> None:
        pid = self.ids.take("g_party")
        ixn.queue_party = (pid, f"P{pid:015X}", q, t)
        ixn.entries += 1
        ixn.history.append((ixn.queue_party[1], QUEUED, t))
        best = None
        for agent in self.ready.values():
            if q in agent.skills and (best is None or agent.ready_since < best.ready_since):
                best = agent
        if best is not None:
            self._assign(best, ixn, t)
            return
        ixn.waiting = True
        self.queues[q].append(ixn)
        if ixn.patience is not None:
            self.at(t + ixn.patience, "abandon", (ixn, ixn.entries))

    def _abandon(self, ixn: Ixn, t: float) -> None:
        ixn.waiting = False
        qid, qpartyid, q, entered = ixn.queue_party  # type: ignore[misc]
        ixn.parties.append((qid, qpartyid, ixn.callid, 4, 3, QUEUE_BASE + q + 1, None, ixn.last_partyid, 2, 2,
                            int(entered), int(t)))
        ixn.history.append((qpartyid, ABANDONED, t))
        self._finish(ixn, t)

    def _assign(self, agent: Agent, ixn: Ixn, t: float) -> None:
        rng = self.rng
        ixn.waiting = False
        qid, qpartyid, q, entered = ixn.queue_party  # type: ignore[misc]
        ixn.parties.append((qid, qpartyid, ixn.callid, 4, 3, QUEUE_BASE + q + 1, None, ixn.last_partyid, 2, 3,
                            int(entered), int(t)))
        ixn.history.append((qpartyid, DIVERTED, t))
        handle = self.mean_handle * HANDLE_FACTOR[ixn.media]
        ring = rng.uniform(3, 10)
        talk = max(10.0, rng.lognormvariate(math.log(handle * 0.72), 0.55))
        hold = rng.uniform(10, 60) if ixn.media == VOICE and rng.random() < 0.15 else 0.0
        wrap = max(3.0, rng.uniform(0.5, 1.5) * handle * 0.15)
        answered = t + ring
        released = answered + talk + hold
        transfer = (ixn.media == VOICE and len(self.voice_queues) > 1 and ixn.entries == 1
                    and rng.random() < 0.06)
        pid = self.ids.take("g_party")
        partyid = f"P{pid:015X}"
        ixn.parties.append((pid, partyid, ixn.callid, 1, 2, None, agent.id, qpartyid, 2, 4 if transfer else 1,
                            int(t), int(released)))
        ixn.history.append((partyid, RINGING, t))
        ixn.history.append((partyid, ESTABLISHED, answered))
        if hold:
            h0 = answered + rng.uniform(0.2, 0.7) * talk
            ixn.history.append((partyid, HELD, h0))
            ixn.history.append((partyid, RETRIEVED, h0 + hold))
        ixn.history.append((partyid, RELEASED, released))
        ixn.last_partyid = partyid
        # The agent: Ready ends, Busy until release, AfterCallWork until wrap-up is done.
        self.ready.pop(agent.id, None)
        self._close_state(agent, t)
        self._state(agent, BUSY, t, released, ixn.callid)
        self._state(agent, ACW, released, released + wrap, ixn.callid)
        agent.state = ACW
        agent.state_since = released + wrap
        self.at(released + wrap, "done", agent)
        if transfer:
            q2 = rng.choice([v for v in self.voice_queues if v != q])
            self.at(released, "enter", (ixn, q2))
        else:
            self._finish(ixn, released)

    def _finish(self, ixn: Ixn, end: float) -> None:
        e = int(end)
        a = int(ixn.arrival)
        # The customer party ends with the call.
        c = ixn.parties[0]
        ixn.parties[0] = c[:10] + (c[10], e)
        self.records.append(("g_ir", (ixn.id, ixn.irid, 2, a, e), a, e))
        cid = self.ids.take("g_call")
        self.records.append(("g_call", (cid, ixn.callid, ixn.irid, f"{ixn.id:016x}", 2, ixn.media, ixn.ani,
                                        ixn.dnis, 2, a, e), a, e))
        for p in ixn.parties:
            self.records.append(("g_party", p, int(p[10]), int(p[11])))  # type: ignore[call-overload]
        seqs: dict[str, int] = defaultdict(int)
        for partyid, event, t in ixn.history:
            seqs[partyid] += 1
            hid = self.ids.take("g_party_history")
            self.records.append(("g_party_history", (hid, partyid, ixn.callid, seqs[partyid], event, int(t)),
                                 int(t), int(t)))

    def _become_ready(self, agent: Agent, t: float) -> None:
        agent.state = READY
        agent.state_since = t
        agent.ready_since = t
        # The longest-waiting interaction of the agent's skills, if any.
        best: tuple[float, int] | None = None
        for q in agent.skills:
            dq = self.queues[q]
            while dq and not dq[0].waiting:
                dq.popleft()
            if dq and (best is None or dq[0].queue_party[3] < best[0]):  # type: ignore[index]
                best = (dq[0].queue_party[3], q)  # type: ignore[index]
        if best is not None:
            ixn = self.queues[best[1]].popleft()
            self._assign(agent, ixn, t)
        elif self.stopping_at is not None:
            self._logout(agent, t, was_ready=False)  # the generated period is over and nobody waits
        else:
            self.ready[agent.id] = agent

    def _after_work(self, agent: Agent, t: float) -> None:
        if agent.break_due and self.stopping_at is None:
            dur, agent.break_due = agent.break_due, 0.0
            self._start_break(agent, t, dur, was_ready=False)
        elif agent.logout_due:
            self._logout(agent, t, was_ready=False)
        else:
            self._become_ready(agent, t)

    def _start_break(self, agent: Agent, t: float, dur: float, was_ready: bool = True) -> None:
        if was_ready:
            self.ready.pop(agent.id, None)
            self._close_state(agent, t)
        agent.state = NOT_READY
        agent.state_since = t
        self.at(t + dur, "break_end", agent)

    def _close_state(self, agent: Agent, t: float) -> None:
        """End the Ready or NotReady state that started at agent.state_since."""
        if agent.state in (READY, NOT_READY) and t > agent.state_since:
            self._state(agent, agent.state, agent.state_since, t, None)

    def _state(self, agent: Agent, state: int, start: float, end: float, callid: str | None) -> None:
        if agent.session is None or int(end) <= int(start):
            return
        sid = self.ids.take("g_agent_state_history")
        self.records.append(("g_agent_state_history", (sid, agent.session[1], agent.id, agent.media, state, callid,
                                                       int(start), int(end)), int(start), int(end)))

    def _logout(self, agent: Agent, t: float, was_ready: bool = True) -> None:
        if was_ready:
            self.ready.pop(agent.id, None)
            self._close_state(agent, t)
        if agent.session is not None:
            sid, lsid, login = agent.session
            self.records.append(("g_login_session", (sid, lsid, agent.id, agent.media, 0, int(login), int(t)),
                                 int(login), int(t)))
        agent.session = None
        agent.state = 0
        agent.logout_due = False
        agent.free_at = t

    def take_records(self) -> list[Record]:
        out, self.records = self.records, []
        return out


# --- writing the IDB -------------------------------------------------------------------


def _active(table: str, row: tuple[object, ...]) -> tuple[object, ...]:
    cols = TABLE_COLUMNS[table]
    changes = ACTIVE[table]
    return tuple(changes.get(c, v) if c in changes else v for c, v in zip(cols, row, strict=True))


def _final_changes(table: str, row: tuple[object, ...]) -> dict[str, object]:
    cols = TABLE_COLUMNS[table]
    return {c: row[cols.index(c)] for c in ACTIVE[table]}


@dataclass
class WriteResult:
    written: dict[str, int]
    deferred: int
    applied: int


def load_state() -> IdbGeneratorState:
    state, _ = IdbGeneratorState.objects.get_or_create(pk=1)
    return state


def write(records: Iterable[Record], horizon: int, ids: Ids, *, agent_free: dict[int, float] | None = None,
          last_end: int | None = None) -> WriteResult:
    """Write records as ICON would have by `horizon`; defer the rest; apply deferred changes now due.

    One transaction, with the generator's counter row locked until commit, so
    GSYS_USEQ values become visible in increasing order (extraction relies on it).
    """
    now_rows: dict[str, list[tuple[int, tuple[object, ...]]]] = defaultdict(list)
    later: list[IdbDeferred] = []
    for table, row, t0, t1 in records:
        if t1 <= horizon:
            now_rows[table].append((t1, row))
        elif t0 <= horizon:
            now_rows[table].append((t0, _active(table, row)))
            later.append(IdbDeferred(due_ts=t1, table_name=table, op="update", row_id=row[0],
                                     payload=_final_changes(table, row)))
        else:
            first = _active(table, row) if table in ACTIVE else row
            later.append(IdbDeferred(due_ts=t0, table_name=table, op="insert", row_id=row[0],
                                     payload=dict(zip(TABLE_COLUMNS[table], first, strict=True))))
            if table in ACTIVE:
                later.append(IdbDeferred(due_ts=t1, table_name=table, op="update", row_id=row[0],
                                         payload=_final_changes(table, row)))
    with transaction.atomic():
        state = IdbGeneratorState.objects.select_for_update().get(pk=1)
        useq = state.useq
        applied, useq = _apply_due(horizon, useq)
        written = {}
        for table, items in now_rows.items():
            items.sort(key=lambda x: x[0])
            cols = TABLE_COLUMNS[table]
            out = []
            for ts, row in items:
                useq += 1
                out.append((*row, useq, useq, ts))
            _bulk_insert(table, (*cols, "gsys_seq", "gsys_useq", "gsys_ts"), out)
            written[table] = len(out)
        IdbDeferred.objects.bulk_create(later, batch_size=2000)
        state.useq = useq
        state.next_ids = dict(ids.next)
        if last_end is not None:
            state.last_end_ts = last_end
        if agent_free is not None:
            state.agent_free_ts = {str(k): v for k, v in agent_free.items()}
        state.save()
    return WriteResult(written, len(later), applied)


def _apply_due(horizon: int, useq: int) -> tuple[int, int]:
    due = list(IdbDeferred.objects.filter(due_ts__lte=horizon).order_by("due_ts", "id"))
    if not due:
        return 0, useq
    inserts: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    for d in due:
        if d.op == "insert":
            cols = TABLE_COLUMNS[d.table_name]
            useq += 1
            inserts[d.table_name].append((*(d.payload[c] for c in cols), useq, useq, d.due_ts))
    for table, out in inserts.items():
        _bulk_insert(table, (*TABLE_COLUMNS[table], "gsys_seq", "gsys_useq", "gsys_ts"), out)
    updates: dict[tuple[str, tuple[str, ...]], list[tuple[object, ...]]] = defaultdict(list)
    for d in due:
        if d.op == "update":
            useq += 1
            cols = tuple(sorted(d.payload))
            updates[(d.table_name, cols)].append((*(d.payload[c] for c in cols), useq, d.due_ts, d.row_id))
    with connection.cursor() as cur:
        for (table, cols), params in updates.items():
            sets = ", ".join(f"{c} = %s" for c in cols)
            cur.executemany(f"UPDATE {table} SET {sets}, gsys_useq = %s, gsys_ts = %s WHERE id = %s", params)
    IdbDeferred.objects.filter(id__in=[d.id for d in due]).delete()
    return len(due), useq


def _bulk_insert(table: str, cols: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    sql.bulk_insert(table, cols, rows)


def ensure_config(layout: Layout, ts: int) -> list[Record]:
    """Configuration rows the IDB does not have yet, as records."""
    out: list[Record] = []
    for table, rows in layout.config_rows().items():
        with connection.cursor() as cur:
            cur.execute(f"SELECT id FROM {table}")
            have = {r[0] for r in cur.fetchall()}
        out.extend((table, row, ts, ts) for row in rows if row[0] not in have)
    return out


# --- the two modes ------------------------------------------------------------------------


@dataclass
class BatchResult:
    start: int
    end: int
    interactions: int
    rows: dict[str, int]
    deferred: int
    applied: int


def generate(*, start: int, end: int, layout: Layout, seed: int, interactions_per_hour: float,
             tz: ZoneInfo) -> BatchResult:
    """Traffic arriving in [start, end), written as of `end` (later changes deferred)."""
    state = load_state()
    if state.last_end_ts is not None and start < state.last_end_ts:
        raise ValueError(f"the IDB already has generated traffic until "
                         f"{datetime.fromtimestamp(state.last_end_ts, UTC):%Y-%m-%d %H:%M:%S} UTC; "
                         "generate from there on (--resume) or choose a later --end")
    ids = Ids(state.next_ids or {t: 1 for t in TABLE_COLUMNS})
    free = {int(k): float(v) for k, v in (state.agent_free_ts or {}).items()}
    sim = Simulation(layout, seed=seed, start=start, tz=tz, ids=ids, interactions_per_hour=interactions_per_hour,
                     agent_free=free)
    sim.advance(end)
    sim.drain()
    records = ensure_config(layout, start) + sim.take_records()
    interactions = sum(1 for r in records if r[0] == "g_ir")
    result = write(records, end, ids, agent_free={a.id: a.free_at for a in sim.agents}, last_end=end)
    return BatchResult(start, end, interactions, result.written, result.deferred, result.applied)


class Live:
    """The live mode: traffic at `rate_per_minute` arriving now, written every tick."""

    def __init__(self, *, layout: Layout, seed: int, rate_per_minute: float, tz: ZoneInfo, start: float):
        state = load_state()
        self.ids = Ids(state.next_ids or {t: 1 for t in TABLE_COLUMNS})
        free = {int(k): float(v) for k, v in (state.agent_free_ts or {}).items()}
        self.layout = layout
        self.sim = Simulation(layout, seed=seed, start=start, tz=tz, ids=self.ids, interactions_per_hour=0,
                              agent_free=free, shifts=False, rate_per_minute=rate_per_minute)
        # Everyone logs in over the first minutes (no shifts in the live mode, only breaks).
        for agent in self.sim.agents:
            self.sim.at(max(start, agent.free_at) + agent.index * 2.0, "login", agent)
            for k in range(1, 13):
                self.sim.at(start + k * 3600 + agent.index * 37.0 % 3000, "break", (agent, 900))
        self.config = ensure_config(layout, int(start))

    def tick(self, now: float) -> WriteResult:
        self.sim.advance(now)
        records = self.config + self.sim.take_records()
        self.config = []
        return write(records, int(now), self.ids, last_end=int(now))

    def stop(self, now: float) -> WriteResult:
        """Everyone finishes their work and logs out; what is still in the future stays deferred."""
        self.sim.advance(now)
        self.sim.drain()
        return write(self.sim.take_records(), int(now), self.ids,
                     agent_free={a.id: a.free_at for a in self.sim.agents}, last_end=int(now))
