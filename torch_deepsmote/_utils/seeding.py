"""Seeds derived from several integers (a base seed, a class, an epoch): the package's one mixer."""

from __future__ import annotations

__all__ = ["mix_seed"]

_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def mix_seed(*words: int) -> int:
    """A 63-bit seed from up to three non-negative ints (a seed, then e.g. a class and an epoch).

    Each word is multiplied by its own odd 64-bit constant, the sum is taken modulo
    2**64 and its high bits are folded into the low ones, so inputs that differ in any
    word differ in the low 32 bits that seed a CPU ``torch.Generator``.
    """
    if not 1 <= len(words) <= len(_MULTIPLIERS):
        raise ValueError(f"mix_seed takes 1 to {len(_MULTIPLIERS)} words, got {len(words)}.")
    value = sum(word * multiplier for word, multiplier in zip(words, _MULTIPLIERS)) % 2**64
    value ^= value >> 31
    return value % 2**63
