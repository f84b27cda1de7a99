"""Voter handler: a ballot in → the round's ``TallyComputed`` out, once every seat has
voted (the record is then in ``voting``). The tally (``tally.close_voting``) is stored in
the record by compare-and-set, so concurrent or repeated ballots all emit the same tally;
the ballot itself is only a trigger (the final one), the record holds every ballot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas.ballot import BallotAccepted
from schemas.tally import TallyComputed
from services._runtime.errors import UnknownTask
from services._runtime.records import RecordStore
from services.voter.settings import VoterSettings
from services.voter.tally import close_voting


@dataclass(frozen=True)
class VoterDeps:
    store: RecordStore
    clock: Callable[[], float]
    settings: VoterSettings


async def on_ballot(msg: BallotAccepted, deps: VoterDeps) -> TallyComputed | None:
    if not msg.final:
        # The ballot box is not full yet; the final ballot will come. A ballot about no
        # task at all is refused, not taken for one of those.
        if await deps.store.get(msg.task_id) is None:
            raise UnknownTask(msg.task_id)
        return None
    record, _ = await deps.store.update(
        msg.task_id, lambda r: close_voting(r, msg.round, deps.settings)
    )
    cur = record.current
    if cur.number == msg.round and cur.phase == "gating":
        return cur.tally
    return None
