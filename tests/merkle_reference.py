"""RFC 6962 section 2.1, word for word: the literal recursion the fast code in lib/merkle.py is
checked against. It shares no tricks with that code, and holds every leaf in memory."""

from collections.abc import Sequence

from lib.merkle import EMPTY_ROOT, leaf_hash, node_hash


def _largest_power_of_two_below(n: int) -> int:
    # Deliberately not _split: the reference should share no tricks with the fast code.
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over the raw leaf data, by the RFC's recursion."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(leaves[0])
    k = _largest_power_of_two_below(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) over the raw leaf data, by the RFC's recursion."""
    n = len(leaves)
    if not 0 <= m < n:
        raise ValueError(f"leaf {m} is not in a tree of size {n}")
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return ref_path(m, leaves[:k]) + [mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def ref_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) over the raw leaf data; [] for m == 0 and m == n."""
    n = len(leaves)
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m in (0, n):
        return []
    return _ref_subproof(m, leaves, True)


def _ref_subproof(m: int, leaves: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return _ref_subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return _ref_subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]
