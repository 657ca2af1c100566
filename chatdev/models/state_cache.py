"""Saved llama.cpp context states, found again by the longest common token prefix.

Roles take turns on one model; before a call, the state whose tokens share the
longest prefix with the new prompt is restored, so a role's system prompt and
history are not evaluated again after another role spoke.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

MAX_CACHE_SLOTS = 8


@dataclass
class Slot:
    tokens: tuple[int, ...]
    state: bytes


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class StateCache:
    """LRU of saved context states, looked up by longest common token prefix."""

    def __init__(self, capacity_bytes: int, max_slots: int = MAX_CACHE_SLOTS) -> None:
        self.capacity = capacity_bytes
        self.max_slots = max_slots
        self.slots: OrderedDict[int, Slot] = OrderedDict()
        self._next = 0

    @property
    def size(self) -> int:
        return sum(len(s.state) for s in self.slots.values())

    def best(self, tokens: Sequence[int]) -> tuple[Slot | None, int]:
        best: Slot | None = None
        best_n = 0
        for key, slot in self.slots.items():
            n = common_prefix(slot.tokens, tokens)
            if n > best_n:
                best, best_n = slot, n
                best_key = key
        if best is not None:
            self.slots.move_to_end(best_key)
        return best, best_n

    def put(self, tokens: tuple[int, ...], state: bytes) -> None:
        if not tokens or len(state) > self.capacity:
            return
        for key, slot in list(self.slots.items()):  # a state extended by this one is dominated
            if len(slot.tokens) <= len(tokens) and tokens[:len(slot.tokens)] == slot.tokens:
                del self.slots[key]
        self.slots[self._next] = Slot(tokens, state)
        self._next += 1
        while self.slots and (len(self.slots) > self.max_slots or self.size > self.capacity):
            self.slots.popitem(last=False)
