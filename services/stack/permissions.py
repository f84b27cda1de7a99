"""What each principal may do on NATS: the permission table of the stack's authorization.

Consumes the flow table (``schemas.subjects.FLOW``: who publishes which message where),
each service's routes (the durable consumers it pulls from, with their filters), the
buckets each role reads or writes (``BUCKETS``) and the pool's agents. Emits one ``Grant``
per principal: the subjects it may publish on (its own messages, and the JetStream API
requests its consumers, buckets and lookups make) and subscribe to (its own inbox, and
discovery for the processes that answer it).

Principals: one per service (``broker``, ``reviewer``, ``voter``, ``gate``), the gateway
(a caller of the council: it submits and cancels tasks, and reads what a client reads),
one per agent (``agent-<id>``), ``admin`` (everything: the CLI, the launcher, benchmarks)
and ``client``, any connection without a key: it submits tasks and hears results and
events, nothing else. The services and the gateway make the streams and buckets they run
on (each makes them all at start, and again after a server lost its store); an agent may
not: it waits for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Final, cast

from schemas import subjects
from schemas.base import Message
from schemas.task import TaskSubmitted
from schemas.timers import PhaseDue
from services._runtime.credentials import ADMIN, ANONYMOUS, agent_principal, inbox_prefix
from services._runtime.route import Route

API: Final = "$JS.API"
SERVICES: Final = ("broker", "reviewer", "voter", "gate")
GATEWAY: Final = "gateway"
AGENT_ROLE: Final = "agent_runner"  # the agents' name in the flow table
CALLER_ROLE: Final = "client"  # the flow table's name for whoever submits and cancels
GET: Final = "get"  # single keys only
READ: Final = "read"  # keys and watches
WRITE: Final = "write"  # read and write: records are read, changed and written back
OWN: Final = "own"  # an agent's own keys (``<agent_id>.<instance>``), written only
BUCKET_NAMES: Final = (
    subjects.AGENTS_BUCKET,
    subjects.DELIBERATIONS_BUCKET,
    subjects.STATS_BUCKET,
    subjects.REFERENCES_BUCKET,
)
BUCKETS: Final[Mapping[str, Mapping[str, str]]] = {
    "broker": {
        subjects.AGENTS_BUCKET: READ,
        subjects.STATS_BUCKET: READ,
        subjects.DELIBERATIONS_BUCKET: WRITE,
        subjects.REFERENCES_BUCKET: WRITE,  # it keeps each task's reference answer apart
    },
    "reviewer": {subjects.DELIBERATIONS_BUCKET: WRITE},
    "voter": {subjects.DELIBERATIONS_BUCKET: WRITE},
    "gate": {subjects.DELIBERATIONS_BUCKET: WRITE, subjects.STATS_BUCKET: WRITE},
    GATEWAY: {subjects.DELIBERATIONS_BUCKET: READ, subjects.AGENTS_BUCKET: READ},
    AGENT_ROLE: {subjects.AGENTS_BUCKET: OWN},
}
# The one bucket only simulated agents read: the reference answers their oracle knows.
SIMULATED_READS: Final = {subjects.REFERENCES_BUCKET: GET}
# The subjects a client hears: every event, and every result as the stream republishes it.
HEARD: Final = (
    subjects.STREAM_SUBJECTS[subjects.NSED_EVENTS],
    subjects.REPUBLISHED[subjects.NSED_RESULTS][1],
)
# The flow table's caller steps an anonymous connection may take: submitting, not cancelling
# (a cancel names any task id; only the gateway and admin act for the task's owner).
ANONYMOUS_STEPS: Final[tuple[type[Message], ...]] = (TaskSubmitted,)


@dataclass(frozen=True)
class Grant:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    responses: bool = False  # may answer the requests it receives (discovery pings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "publish", tuple(dict.fromkeys(self.publish)))
        object.__setattr__(self, "subscribe", tuple(dict.fromkeys(self.subscribe)))


@dataclass(frozen=True)
class Agent:
    agent_id: str
    simulated: bool


def flow_role(principal: str) -> str:
    """The name the flow table gives the principal's role."""
    if principal.startswith("agent-"):
        return AGENT_ROLE
    return CALLER_ROLE if principal in (GATEWAY, ANONYMOUS) else principal


def published(principal: str, agent_id: str | None = None) -> list[str]:
    """The subjects of the messages the flow table has ``principal`` produce, with its own
    agent id and service name filled in and every other field a wildcard."""
    role = flow_role(principal)
    fixed = {"service": role, **({"agent_id": agent_id} if agent_id else {})}
    found: list[str] = []
    for step in subjects.FLOW:
        if role not in step.producers:
            continue
        if principal == ANONYMOUS and step.message not in ANONYMOUS_STEPS:
            continue
        # A timer is published on its schedule's subject; the server delivers it when due.
        template = subjects.TIMER_SCHEDULES if step.message is PhaseDue else step.subject
        found.append(subjects.fill(template, **fixed))
    return found


def consumer_subjects(route: Route) -> list[str]:
    """Create (only with the route's own filter), look up and pull from the route's
    durable consumer, and acknowledge what it delivers."""
    stream, name = route.stream, route.name
    return [
        f"{API}.CONSUMER.CREATE.{stream}.{name}.{route.subject}",
        f"{API}.CONSUMER.INFO.{stream}.{name}",
        f"{API}.CONSUMER.MSG.NEXT.{stream}.{name}",
        f"$JS.ACK.{stream}.{name}.>",
    ]


def timer_lookups(principal: str) -> list[str]:
    """A timer's producer reads the timer its task and phase has waiting when the server
    refuses to replace the one it expected (``arming.Arming``): directly, or from the
    stream's leader."""
    if flow_role(principal) not in subjects.step_of(PhaseDue).producers:
        return []
    schedules = subjects.fill(subjects.TIMER_SCHEDULES)
    return [
        f"{API}.DIRECT.GET.{subjects.NSED_TIMERS}.{schedules}",
        f"{API}.STREAM.MSG.GET.{subjects.NSED_TIMERS}",
    ]


def bucket_subjects(bucket: str, access: str, agent_id: str | None = None) -> list[str]:
    stream = f"KV_{bucket}"
    if access == OWN:
        return [f"{API}.STREAM.INFO.{stream}", subjects.kv_subject(bucket, f"{agent_id}.*")]
    # Gets: direct, or from the leader (a cluster's records are read there).
    gets = [
        f"{API}.STREAM.INFO.{stream}",
        f"{API}.DIRECT.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}.>",
        f"{API}.STREAM.MSG.GET.{stream}",
    ]
    if access == GET:
        return gets
    # Watches: an ephemeral ordered consumer, looked up when it stalls, and its flow control.
    watches = [
        f"{API}.CONSUMER.CREATE.{stream}",
        f"{API}.CONSUMER.INFO.{stream}.*",
        f"$JS.FC.{stream}.>",
    ]
    return gets + watches + ([subjects.kv_subject(bucket, ">")] if access == WRITE else [])


def topology_subjects() -> list[str]:
    """Make, look up and update every stream and bucket (``services._runtime.topology``)."""
    streams = [*subjects.STREAM_SUBJECTS, *(f"KV_{b}" for b in BUCKET_NAMES)]
    return [f"{API}.STREAM.{verb}.{s}" for s in streams for verb in ("CREATE", "UPDATE", "INFO")]


def _service_routes() -> dict[str, Callable[[Any], Sequence[Route]]]:
    from services.broker.routes import routes as broker
    from services.gate.routes import routes as gate
    from services.reviewer.routes import routes as reviewer
    from services.voter.routes import routes as voter

    return {"broker": broker, "reviewer": reviewer, "voter": voter, "gate": gate}


def agent_routes(agent_id: str) -> Sequence[Route]:
    from services.agent_runner.routes import routes

    # Routes only read the profile's id and concurrency; the handlers are never called.
    deps = SimpleNamespace(profile=SimpleNamespace(id=agent_id, max_concurrency=1))
    return routes(cast(Any, deps))


def service_routes(service: str) -> Sequence[Route]:
    return _service_routes()[service](None)


def grant(principal: str, agent: Agent | None = None) -> Grant:
    """What ``principal`` may do (``agent``: the agent it is, for ``agent-<id>``)."""
    if principal == ADMIN:
        return Grant(publish=(">",), subscribe=(">",), responses=True)
    inbox = f"{inbox_prefix(principal)}.>"
    if principal == ANONYMOUS:
        return Grant(publish=tuple(published(principal)), subscribe=(*HEARD, inbox))
    base = [*published(principal, agent.agent_id if agent else None), f"{API}.INFO"]
    listens = (inbox, "$SRV.>")  # discovery: `make up` and `nsed stack status` ping
    if agent is not None:
        buckets = {**BUCKETS[AGENT_ROLE], **(SIMULATED_READS if agent.simulated else {})}
        extra = [
            *(s for r in agent_routes(agent.agent_id) for s in consumer_subjects(r)),
            *(s for b, a in buckets.items() for s in bucket_subjects(b, a, agent.agent_id)),
            # Its work's stream, waited for at start (it does not make streams).
            f"{API}.STREAM.INFO.{subjects.NSED_WORK}",
            # Whether a task has ended: the last result stored for it, read from the
            # stream's leader (a request that may name any subject of the results stream:
            # what any client hears on nsed.results.>).
            f"{API}.STREAM.MSG.GET.{subjects.NSED_RESULTS}",
        ]
        return Grant(publish=tuple(base + extra), subscribe=listens, responses=True)
    routes = service_routes(principal) if principal in SERVICES else ()
    extra = [
        *topology_subjects(),
        *(s for r in routes for s in consumer_subjects(r)),
        *(s for b, a in BUCKETS[principal].items() for s in bucket_subjects(b, a)),
        # Whether the results stream already holds a result (published once), and a result
        # read back for a caller.
        f"{API}.DIRECT.GET.{subjects.NSED_RESULTS}.>",
        *timer_lookups(principal),
        *_EXTRA.get(principal, ()),
    ]
    heard = HEARD if principal == GATEWAY else ()
    return Grant(publish=tuple(base + extra), subscribe=(*listens, *heard), responses=True)


# What a role does beyond the flow table, its consumers and its buckets.
_EXTRA: Final[Mapping[str, tuple[str, ...]]] = {
    # Admission reads the work waiting on each agent's consumer.
    "broker": (f"{API}.CONSUMER.LIST.{subjects.NSED_WORK}",),
    # A chat follows its task's events and result, and replays a finished one's events,
    # through ephemeral ordered consumers.
    GATEWAY: tuple(
        subject
        for stream in (subjects.NSED_EVENTS, subjects.NSED_RESULTS)
        for subject in (
            f"{API}.CONSUMER.CREATE.{stream}",
            f"{API}.CONSUMER.INFO.{stream}.*",
            f"$JS.FC.{stream}.>",
        )
    ),
}


def table(agents: Sequence[Agent]) -> dict[str, Grant]:
    """Every principal of a stack running ``agents``, with its grant."""
    found = {name: grant(name) for name in (*SERVICES, GATEWAY, ADMIN, ANONYMOUS)}
    for agent in agents:
        found[agent_principal(agent.agent_id)] = grant(agent_principal(agent.agent_id), agent)
    return found
