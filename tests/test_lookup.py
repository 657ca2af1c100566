"""Drafts looked up in the context (models/lookup.py): where they come from and how long they are."""

from __future__ import annotations

import numpy as np
import pytest

from chatdev.models.lookup import PromptLookup


def ids(*tokens: int) -> np.ndarray:
    return np.array(tokens, dtype=np.intc)


def test_the_tokens_that_followed_the_stretch_earlier_are_the_draft() -> None:
    look = PromptLookup(min_ngram=3, first_draft=4)
    #        the file in the prompt ........ | the reply copies it so far
    history = ids(9, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 1, 2, 3)
    assert look(history).tolist() == [4, 5, 6, 7]
    assert (look.stats.drafts, look.stats.drafted) == (1, 4)


def test_no_stretch_of_min_ngram_tokens_seen_before_means_no_draft() -> None:
    look = PromptLookup(min_ngram=3)
    assert look(ids(1, 2, 3, 4, 5, 9, 2, 3)).tolist() == []  # only "2 3" repeats
    assert look(ids(1, 2, 3)).tolist() == []
    assert look.stats.drafts == 0


def test_the_longest_stretch_wins_then_the_most_recent_place() -> None:
    look = PromptLookup(min_ngram=2, first_draft=2)
    # "5 6" occurs twice; only the first place has the longer "4 5 6" that ends the text too
    history = ids(4, 5, 6, 10, 11, 0, 5, 6, 20, 21, 0, 4, 5, 6)
    assert look(history).tolist() == [10, 11]
    # equal stretches: the most recent place
    history = ids(5, 6, 10, 11, 1, 5, 6, 20, 21, 0, 5, 6)
    assert look(history).tolist() == [20, 21]


def test_a_draft_never_runs_past_the_text_so_far() -> None:
    look = PromptLookup(min_ngram=2, first_draft=8)
    assert look(ids(7, 1, 2, 3, 1, 2)).tolist() == [3, 1, 2]


def test_the_draft_length_follows_what_the_sampler_kept() -> None:
    look = PromptLookup(min_ngram=2, min_draft=2, first_draft=4, max_draft=16)
    source = list(range(100, 140))
    text = [*source, 1, *source[:2]]  # the reply has begun to copy the source
    draft = look(ids(*text))
    assert draft.tolist() == source[2:6]
    # all four kept, one more sampled: the next draft is twice as long
    text += [*source[2:6], source[6]]
    assert len(look(ids(*text))) == 8
    assert look.stats.accepted == 4
    # two of eight kept, then the sampler went its own way: the next is three long
    text += [*source[7:9], 55]
    assert look(ids(*text)).tolist() == []  # nothing before ends with 55
    assert look.stats.accepted == 6 and look.length == 3
    look.reset()
    assert (look.length, look.stats.drafts, look.stats.accepted) == (4, 0, 0)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        PromptLookup(min_ngram=4, max_ngram=3)
    with pytest.raises(ValueError):
        PromptLookup(min_draft=4, first_draft=2)
