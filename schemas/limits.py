"""The size of everything on the wire: every free-text field, list and count of every message.

Consumes nothing; emits the bounds and the annotated field types the message modules use.
A message over a bound fails decoding (``msgspec.ValidationError``, which names the field)
and is dead-lettered by the service that received it. The agent runner shortens its
model's output to the bounds before it publishes, and says so in the message's ``notes``.

Sizes are in characters; a token is about 4 of them (``services.core.tokens``).

- **A proposal must fit a reviewer's context beside the other candidates.** At the default
  ``context_window`` (8,192 tokens) and the default team (3), a review prompt carries two
  candidates and the reviewer's own proposal beside ~600 tokens of instructions, and leaves
  1,536 tokens for the review: ~2,000 tokens, ``CONTENT_CHARS`` = 8,000 characters, each.
  With a 32K window a reviewer sees the candidates of a full team of ``MAX_READING_TEAM``
  whole. Longer proposals are cut in the middle by the runner (their final answer is at the
  end), as the runner already cut candidates to fit a smaller window.
- **Reasoning** reaches reviewers only as an excerpt (``EXCERPT_CHARS``, ~500 tokens, what the
  reviewer keeps in the record at most); the event carries up to ``REASONING_CHARS`` (~8,000
  tokens) for people who read it.
- **The question** (``PROMPT_CHARS``, ~25,000 tokens) must leave room in a member's 32K window
  for the consensus state, the feedback and the answer; ``SYSTEM_CHARS`` likewise.
- **An extracted answer** (``ANSWER_CHARS``, ~500 tokens) is a number, a letter, a final line
  or a code block; it is repeated in every round's summary and the tally.
- **A review** is one model output of ``review_max_tokens`` (default 1,536) covering every
  candidate; the JSON schema the runner gives servers asks for a justification of at most 400
  characters and 1–3 quotes of at most 300 per candidate. The bounds leave room for a model
  that only read that in its prompt (``JUSTIFICATION_CHARS``, ``CLAIMS_PER_ENTRY``).
- **Teams and rounds.** A team reads each other's proposals in nsed (N·(N−1) reviews a
  round), moa and debate (every member's prompt carries the others' answers): at most
  ``MAX_READING_TEAM`` seats, the candidates a 32K-token reviewer can read whole. vote's
  members never read each other: up to ``MAX_TEAM`` samples (the quality bench's
  equal-token baselines take 27). ``MAX_ROUNDS``: the halting rule stops a deliberation long
  before (the default is 6, the benches go to 12).
- **Everything else** is an identifier, a name, a label, a reason or a note a person reads.

**The record fits one NATS message.** The deliberation record (KV ``nsed_deliberations``) is
written whole at every step, so it must encode under the server's ``max_payload``
(``RECORD_BUDGET_BYTES``, 8 MB in ``infra/nats/nats-server.conf``). It holds the task, the
round's proposals, ballots and tally, the consensus state (twice: its own and the last
``RoundContinued``'s), every round's summary (twice: its own and the result's), the winner.
``tests/unit/test_record_size.py`` builds, for each protocol, the largest record these
bounds and the services' own rules admit — every seat of the largest team, every round,
every string at its bound and made of control characters, six bytes each in JSON (the most
a character costs) — and holds it under that limit. The bounds above are what fits: the
largest (nsed, 8 seats, 20 rounds, ballots for every pair) is about 7.7 MB.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

CHARS_PER_TOKEN = 4

# Teams and rounds ----------------------------------------------------------------------
MAX_TEAM = 32
MAX_READING_TEAM = 8
MAX_ROUNDS = 20
# moa's aggregator round comes after its last layer: one round past max_rounds.
MAX_ROUND_NUMBER = MAX_ROUNDS + 1

# Texts a model or a client writes -------------------------------------------------------
PROMPT_CHARS = 100_000
SYSTEM_CHARS = 16_000
CONTENT_CHARS = 8_000
REASONING_CHARS = 32_000
EXCERPT_CHARS = 2_000
ANSWER_CHARS = 2_000
JUSTIFICATION_CHARS = 1_000
QUOTE_CHARS = 300
CLAIMS_PER_ENTRY = 5
CATEGORIES = 16  # rubric scores per review entry
REVIEW_LABEL_CHARS = 32  # "Candidate_A"; what the model wrote, quoted in a ballot's notes
ROLE_INSTRUCTION_CHARS = 2_000
RUBRIC_CHARS = 2_000

# Budgets a policy may set (tokens) -----------------------------------------------------
STATE_TOKENS = 8_192
FEEDBACK_TOKENS = 2_048
# A consensus-state item: a proposal in full (moa, debate, vote) or less (nsed: an excerpt,
# or a critique with the answer it concerns).
STATE_ITEM_CHARS = CONTENT_CHARS
STATE_ITEMS = MAX_TEAM
# A seat's feedback: a critique of its proposal, or a quote of it judged wrong.
FEEDBACK_LINES = MAX_READING_TEAM * (1 + CLAIMS_PER_ENTRY)
FEEDBACK_LINE_CHARS = JUSTIFICATION_CHARS + QUOTE_CHARS

# Texts the services write --------------------------------------------------------------
ID_CHARS = 128  # a message or proposal id: a task id and a few words and numbers
NAME_CHARS = 256  # a model, a family, an instance
LABEL_CHARS = 64  # an agent id, a role, a domain, a status
ERROR_CHARS = 300  # what a message carries of an error; its service's log has all of it
# A note: fixed wording around an error, a label or an excerpt (quoted, so escaped).
NOTE_CHARS = 600
# Notes on one ballot: one per review entry (dropped, or template text) and three more.
BALLOT_NOTES = 2 * MAX_READING_TEAM + 3
# Notes on one round: per seat, its proposal's failure or timeout and its review's
# timeout, and whether the round had a quorum.
ROUND_NOTES = 2 * MAX_TEAM + 1
RUNNER_NOTES = 4  # what the runner cut from one output
REASON_CHARS = 1_000
DETAIL_CHARS = 4_000
WARNING_CHARS = 1_000  # an unknown field's name (up to 64 characters) quoted, and a hint
WARNINGS = 16
METADATA_ENTRIES = 16
METADATA_VALUE_CHARS = 256
SUBJECT_CHARS = 4_096  # NATS's own control-line limit bounds a subject
EXCERPT_BYTES = 512  # of a dead letter's payload

RECORD_BUDGET_BYTES = 8 * 1024 * 1024


def text(chars: int) -> msgspec.Meta:
    return msgspec.Meta(max_length=chars)


Id = Annotated[str, text(ID_CHARS)]
Name = Annotated[str, text(NAME_CHARS)]
Label = Annotated[str, text(LABEL_CHARS)]
ReviewLabel = Annotated[str, text(REVIEW_LABEL_CHARS)]
# A candidate's label is an attribute of the fence its text is shown in
# (services/core/fencing.py): a plain word, nothing that could end the tag.
CANDIDATE_LABEL_PATTERN = rf"^[A-Za-z0-9_.-]{{1,{REVIEW_LABEL_CHARS}}}$"
CandidateLabel = Annotated[str, msgspec.Meta(pattern=CANDIDATE_LABEL_PATTERN)]
Content = Annotated[str, text(CONTENT_CHARS)]
Reasoning = Annotated[str, text(REASONING_CHARS)]
Excerpt = Annotated[str, text(EXCERPT_CHARS)]
Answer = Annotated[str, text(ANSWER_CHARS)]
Justification = Annotated[str, text(JUSTIFICATION_CHARS)]
Quote = Annotated[str, text(QUOTE_CHARS)]
ErrorText = Annotated[str, text(ERROR_CHARS)]
Note = Annotated[str, text(NOTE_CHARS)]
BallotNotes = Annotated[tuple[Note, ...], msgspec.Meta(max_length=BALLOT_NOTES)]
RoundNotes = Annotated[tuple[Note, ...], msgspec.Meta(max_length=ROUND_NOTES)]
RunnerNotes = Annotated[tuple[Note, ...], msgspec.Meta(max_length=RUNNER_NOTES)]
Reason = Annotated[str, text(REASON_CHARS)]
WarningText = Annotated[str, text(WARNING_CHARS)]
Warnings = Annotated[tuple[WarningText, ...], msgspec.Meta(max_length=WARNINGS)]

SeatNumber = Annotated[int, msgspec.Meta(ge=0, lt=MAX_TEAM)]
RoundNumber = Annotated[int, msgspec.Meta(ge=0, le=MAX_ROUND_NUMBER)]
# Counts of things in one task and amounts of money or time: finite and not negative.
Count = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Tokens = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Usd = Annotated[float, msgspec.Meta(ge=0.0, le=1e9)]
Duration = Annotated[float, msgspec.Meta(ge=0.0, le=1e7)]  # seconds (~115 days)
Epoch = Annotated[float, msgspec.Meta(ge=0.0, le=1e11)]  # seconds since 1970 (year 5138)
Finite = Annotated[float, msgspec.Meta(ge=-1e12, le=1e12)]
