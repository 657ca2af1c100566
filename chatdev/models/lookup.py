"""Draft tokens looked up in the context itself: speculative decoding with no second model.

A fix rewrites a file its prompt holds, a review quotes the code, a test repeats the
program's names: much of what the model writes is already in its context. ``PromptLookup``
is the ``draft_model`` llama-cpp-python's ``Llama.generate`` asks before each step. It finds
the longest stretch (``MIN_NGRAM`` to ``MAX_NGRAM`` tokens) that ends the text so far and
occurred before, the most recent such place, and proposes the tokens that followed it
there. llama.cpp evaluates the token just sampled and the draft in one batch; the sampler
then draws each next token from the model's own logits as it always does, and the draft
is kept only as far as it agrees. So the reply is drawn from the same distribution as
plain decoding: drafting changes how long it takes, not what the model may say.

A batch of a few tokens costs little more than one where decoding is bound by reading the
weights, but a refused draft still costs its batch, so the draft's length follows its
luck: twice as long after a draft taken whole (up to ``MAX_DRAFT``), the part taken plus
one after a draft refused on the way (at least ``MIN_DRAFT``). No stretch of
``MIN_NGRAM`` tokens seen before: no draft, and the step is a plain one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Chosen on bench/lookup.py's two 1.5B replies (a whole-file fix, a new module) replayed against the
# cost of a batch measured on 2 AVX2 cores (16 tokens cost 8.3 single steps, 17 cost 10.4): see
# docs/ARCHITECTURE.md, "Drafts looked up in the context".
MIN_NGRAM = 4  # a shorter stretch repeats too often in code ("self", ".", "x") to predict anything
MAX_NGRAM = 12  # the longest stretch compared: longer ones rarely choose a different place
MIN_DRAFT = 1
MAX_DRAFT = 15  # with the token sampled before it, a batch of 16
FIRST_DRAFT = 4


@dataclass
class DraftStats:
    """What drafting did in one call: drafts proposed, their tokens, and the tokens the sampler kept."""

    drafts: int = 0
    drafted: int = 0
    accepted: int = 0


class PromptLookup:
    """llama-cpp-python's ``draft_model`` protocol: the token ids so far in, the draft out."""

    def __init__(self, *, min_ngram: int = MIN_NGRAM, max_ngram: int = MAX_NGRAM, min_draft: int = MIN_DRAFT,
                 max_draft: int = MAX_DRAFT, first_draft: int = FIRST_DRAFT) -> None:
        if not 1 <= min_ngram <= max_ngram:
            raise ValueError(f"need 1 <= min_ngram <= max_ngram, got {min_ngram} and {max_ngram}")
        if not 1 <= min_draft <= first_draft <= max_draft:
            raise ValueError(f"need 1 <= min_draft <= first_draft <= max_draft, got {min_draft}, "
                             f"{first_draft} and {max_draft}")
        self.min_ngram = min_ngram
        self.max_ngram = max_ngram
        self.min_draft = min_draft
        self.max_draft = max_draft
        self.first_draft = first_draft
        self.reset()

    def reset(self) -> None:
        """Start a new reply: the draft length starts over and the counts are zeroed."""
        self.length = self.first_draft
        self.stats = DraftStats()
        self._pending: tuple[int, int] | None = None  # (position of the last draft, its length)

    def __call__(self, input_ids: np.ndarray, /, **_: object) -> np.ndarray:
        ids = np.asarray(input_ids)
        self._settle(len(ids))
        draft = self.propose(ids, self.length)
        if len(draft):
            self._pending = (len(ids), len(draft))
            self.stats.drafts += 1
            self.stats.drafted += len(draft)
        return draft

    def _settle(self, n: int) -> None:
        """The last draft's fate, read from how far the text has grown since: it was evaluated after the
        token then sampled, and ``n`` is what was kept of it plus the one token sampled after."""
        if self._pending is None:
            return
        at, size = self._pending
        self._pending = None
        if n <= at:  # another reply started on the same model
            return
        taken = min(n - at - 1, size)
        self.stats.accepted += taken
        if taken >= size:
            self.length = min(self.max_draft, self.length * 2)
        else:
            self.length = max(self.min_draft, min(self.max_draft, taken + 1))

    def propose(self, ids: np.ndarray, length: int) -> np.ndarray:
        """Up to ``length`` tokens that followed the most recent earlier place where the longest
        stretch ending ``ids`` (at least ``min_ngram`` tokens) occurred; empty when there is none."""
        n = len(ids)
        if n <= self.min_ngram or length < 1:
            return ids[:0]
        # candidate ends: earlier places holding the last token, with a token after them
        ends = np.flatnonzero(ids[:n - 1] == ids[n - 1])
        if not len(ends):
            return ids[:0]
        matched = np.ones(len(ends), dtype=np.int64)
        alive = np.ones(len(ends), dtype=bool)
        for back in range(1, min(self.max_ngram, n - 1)):
            pos = ends - back
            ok = alive & (pos >= 0)
            ok[ok] = ids[pos[ok]] == ids[n - 1 - back]
            alive = ok
            if not alive.any():
                break
            matched += alive
        best = int(matched.max())
        if best < self.min_ngram:
            return ids[:0]
        end = int(ends[np.flatnonzero(matched == best)[-1]])  # the most recent of the longest
        return ids[end + 1:min(end + 1 + length, n)]
