"""Deterministic message ids (``Nats-Msg-Id`` = task:round:kind[:seat]).

A handler that runs twice emits the same ids, and JetStream's duplicate window drops the
second copy: this is what makes every handler safe to re-run after a crash.
"""

from __future__ import annotations


def team(task_id: str, round_number: int) -> str:
    return f"{task_id}:{round_number}:team"


def propose(task_id: str, round_number: int, seat: int) -> str:
    return f"{task_id}:{round_number}:propose:{seat}"


def proposal(task_id: str, round_number: int, seat: int) -> str:
    return f"{task_id}:{round_number}:proposal:{seat}"


def proposal_ref(task_id: str, round_number: int, seat: int) -> str:
    """The ``proposal_id`` of a seat's proposal in a round."""
    return f"{task_id}:{round_number}:{seat}"


def review_request(task_id: str, round_number: int, seat: int) -> str:
    return f"{task_id}:{round_number}:review_request:{seat}"


def review(task_id: str, round_number: int, seat: int) -> str:
    return f"{task_id}:{round_number}:review:{seat}"


def ballot(task_id: str, round_number: int, seat: int) -> str:
    return f"{task_id}:{round_number}:ballot:{seat}"


def voting(task_id: str, round_number: int) -> str:
    return f"{task_id}:{round_number}:voting"


def tally(task_id: str, round_number: int) -> str:
    return f"{task_id}:{round_number}:tally"


def continued(task_id: str, round_number: int) -> str:
    return f"{task_id}:{round_number}:continued"


def result(task_id: str) -> str:
    return f"{task_id}:result"


def result_again(task_id: str, stream_seq: int) -> str:
    """A copy of a finished task's result for the same task sent again (stream position
    ``stream_seq``): a message of its own, so the asker hears it."""
    return f"{task_id}:result:again:{stream_seq}"


def refused(task_id: str, stream_seq: int) -> str:
    return f"{task_id}:refused:{stream_seq}"


def rejection(task_id: str, payload_digest: str) -> str:
    """A rejected task's ``failed`` result: never the id of the task's real result."""
    return f"{task_id}:rejected:{payload_digest}"


def timer(task_id: str, round_number: int, phase: str) -> str:
    return f"{task_id}:{round_number}:timer:{phase}"
