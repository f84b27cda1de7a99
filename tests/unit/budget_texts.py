"""Texts for property tests of what must fit a token budget: short ones, and ones made of a
few characters repeated far past any budget."""

from __future__ import annotations

from hypothesis import strategies as st

texts = st.text(max_size=200) | st.text(min_size=1, max_size=3).map(lambda s: s * 3000)
