"""Nothing a person or a model wrote can add markup to a page of the web view: every text
is escaped, so the pages have the same elements whatever the texts say."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from services.broker.registry import LiveAgent
from services.gateway import pages
from services.gateway.timeline import Timeline

from ..builders import card
from ..deliberation_events import deliberation, summaries

SCRIPTS = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<SCRIPT src=//x>",
        "</pre><script>x()</script>",
        '"><script>',
        "'><img src=x onerror=alert(1)>",
        "<!--",
        "]]><details open>",
    ]
)
# Any text, often with an attempt at markup somewhere inside it.
HOSTILE = st.one_of(
    st.text(min_size=1),
    st.builds(lambda a, s, b: a + s + b, st.text(), SCRIPTS, st.text()),
)
PROMPTS = HOSTILE.filter(lambda s: s.strip())


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def tags(page: str) -> list[str]:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser.tags


def rendered(texts: dict[str, object], finished: bool) -> tuple[str, str]:
    """The deliberation's page and the index listing it and a pool whose model name is
    one of the texts."""
    rec, events = deliberation(finished=finished, **texts)  # type: ignore[arg-type]
    timeline = Timeline(task_id=rec.task_id)
    for event in events:
        timeline.apply(event)
    model = str(texts["prompt"])
    pool = [LiveAgent(card=card("alpha", model=model), instances=1, capacity=1, in_flight=0)]
    page = pages.deliberation_page(timeline, rec, jaeger_url="http://127.0.0.1:16686")
    return page, pages.index_page(summaries(rec), pool, now=rec.created_at)


@settings(max_examples=100, deadline=None)
@given(
    prompt=PROMPTS,
    system=HOSTILE,
    contents=st.lists(HOSTILE, min_size=3, max_size=3),
    answers=st.lists(HOSTILE, min_size=3, max_size=3),
    notes=st.lists(HOSTILE, min_size=1, max_size=2),
    error=HOSTILE,
    finished=st.booleans(),
)
def test_no_page_has_an_unescaped_script_or_any_element_from_the_texts(
    prompt: str,
    system: str,
    contents: list[str],
    answers: list[str],
    notes: list[str],
    error: str,
    finished: bool,
) -> None:
    texts: dict[str, object] = {
        "prompt": prompt,
        "system": system,
        "contents": contents,
        "answers": answers,
        "notes": notes,
        "error": error,
    }
    page, index = rendered(texts, finished)
    own_scripts = 0 if finished else 1  # the live view's one script tag
    assert page.lower().count("<script") == own_scripts
    assert index.lower().count("<script") == 0
    # The same deliberation told in plain words has exactly the same elements.
    plain = {k: ["x"] * len(v) if isinstance(v, list) else "x" for k, v in texts.items()}
    plain_page, plain_index = rendered(plain, finished)
    assert tags(page) == tags(plain_page)
    assert tags(index) == tags(plain_index)


def test_the_texts_are_shown_escaped_not_dropped() -> None:
    attack = "<script>alert(1)</script>"
    page, index = rendered(
        {
            "prompt": attack,
            "system": attack,
            "contents": [attack] * 3,
            "answers": [attack, "b", "c"],
            "notes": [attack],
            "error": attack,
        },
        finished=True,
    )
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
