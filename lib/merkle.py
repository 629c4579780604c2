"""RFC 6962 (and RFC 9162) Merkle tree hashing over a store of complete subtrees.

The tree is never held in memory. Whoever owns the data (a database table, or MemoryStore
below) keeps the hash of every *complete perfect subtree*, keyed by ``(level, index)``: the
node covers leaves ``[index * 2**level, (index + 1) * 2**level)`` and level 0 holds the leaf
hashes. Such nodes never change once written, so the store is append-only, and every hash
the RFC 6962 recursion asks for (roots, inclusion paths, consistency proofs, for the current
size or any earlier one) is a right fold of O(log n) of them.

Storage is reached only through two callbacks, so this module needs no Django:

* ``get_node(level, index) -> bytes`` fetches one stored node;
* ``get_nodes(keys) -> Mapping[(level, index), bytes]`` fetches many in one round trip.

The proof builders first work out every range they need, then make a single ``get_nodes``
call; ``inclusion_keys`` and ``consistency_keys`` name those nodes beforehand, for a caller
that fetches them in a query doing other work too. The verifiers do not touch storage at
all; auditors can use them on their own. The tests check all of it against a literal reference
implementation of RFC 6962 (tests/merkle_reference.py).
"""

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

Key = tuple[int, int]
GetNode = Callable[[int, int], bytes]
GetNodes = Callable[[list[Key]], Mapping[Key, bytes]]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class MissingNodeError(LookupError):
    """The store lacks a node the computation needs (tree size larger than the stored tree?)."""


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-leaf tree: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + bytes(left) + bytes(right)).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray | memoryview) and len(value) == HASH_SIZE


def _check_hash(value: object, what: str) -> bytes:
    if not _is_hash(value):
        raise ValueError(f"{what} must be {HASH_SIZE} bytes")
    return bytes(value)  # type: ignore[arg-type]


# --- Writing --------------------------------------------------------------------------------


def nodes_to_add(n: int, leaf: bytes, get_node: GetNode) -> list[tuple[int, int, bytes]]:
    """Nodes that become complete when leaf hash ``leaf`` is appended to a tree of n leaves.

    Returns ``(level, index, hash)`` for the new leaf and then for each parent it completes
    (one per trailing 1 bit of n). ``get_node`` is asked only for those parents' left
    children, which are already stored.
    """
    if n < 0:
        raise ValueError("tree size must be non-negative")
    value = _check_hash(leaf, "leaf hash")
    level, index = 0, n
    added = [(level, index, value)]
    while index & 1:
        value = node_hash(_check_hash(get_node(level, index - 1), "stored node"), value)
        level += 1
        index >>= 1
        added.append((level, index, value))
    return added


def nodes_to_add_batch(
    n: int, leaves: Iterable[bytes], get_nodes: GetNodes
) -> list[tuple[int, int, bytes]]:
    """Like nodes_to_add for several leaf hashes appended at indexes n, n+1, ...

    The only stored nodes a batch can need are the peaks of the current tree (the perfect
    subtrees that make up [0, n)) whose parent the batch completes; any other left sibling is
    itself new. They are fetched in at most one ``get_nodes`` call and everything else comes
    from an in-memory overlay.
    """
    if n < 0:
        raise ValueError("tree size must be non-negative")
    leaves = [_check_hash(leaf, "leaf hash") for leaf in leaves]
    end = n + len(leaves)
    # Peaks are always left children (otherwise their parent would already be complete), so
    # the parent completes once the batch reaches the end of the peak's right sibling.
    needed = [(level, index) for level, index in subtree_keys(0, n) if (index + 2) << level <= end]
    overlay: dict[Key, bytes] = _fetch(get_nodes, needed) if needed else {}

    def get_node(level: int, index: int) -> bytes:
        return overlay[(level, index)]

    added: list[tuple[int, int, bytes]] = []
    for offset, leaf in enumerate(leaves):
        for level, index, value in nodes_to_add(n + offset, leaf, get_node):
            overlay[(level, index)] = value
            added.append((level, index, value))
    return added


# --- Reading --------------------------------------------------------------------------------


def subtree_keys(start: int, end: int) -> list[Key]:
    """The stored perfect subtrees that make up the leaf range [start, end), left to right.

    Only ranges that are nodes of some RFC 6962 tree are accepted: start must be a multiple
    of the smallest power of two >= end - start. Every range the RFC recursion asks for
    (D[0:n], D[k:n] after a split, the subtrees inside) has that shape, and for those
    MTH(D[start:end]) is the right fold of these subtrees (largest first). Any other range
    has a different shape than the stored nodes, so it is refused rather than mis-hashed.
    """
    if not 0 <= start <= end:
        raise ValueError(f"bad leaf range [{start}, {end})")
    size = end - start
    if size and start % (1 << (size - 1).bit_length()):
        raise ValueError(f"[{start}, {end}) is not a node of an RFC 6962 tree")
    keys = []
    position = start
    while position < end:
        level = (end - position).bit_length() - 1
        keys.append((level, position >> level))
        position += 1 << level
    return keys


def _fetch(get_nodes: GetNodes, keys: Iterable[Key]) -> dict[Key, bytes]:
    unique = list(dict.fromkeys(keys))
    found = get_nodes(unique)
    nodes = {}
    for key in unique:
        if key not in found:
            raise MissingNodeError(f"node {key} is not stored")
        # bytes() because database drivers may hand back memoryview.
        nodes[key] = _check_hash(found[key], f"stored node {key}")
    return nodes


def _fold(keys: Sequence[Key], nodes: Mapping[Key, bytes]) -> bytes:
    if not keys:
        return EMPTY_ROOT
    value = nodes[keys[-1]]
    for key in reversed(keys[:-1]):
        value = node_hash(nodes[key], value)
    return value


def _range_hashes(ranges: Sequence[tuple[int, int]], get_nodes: GetNodes) -> list[bytes]:
    """MTH of each range, with every node they need read in a single get_nodes call."""
    if not ranges:
        return []
    key_lists = [subtree_keys(start, end) for start, end in ranges]
    nodes = _fetch(get_nodes, (key for keys in key_lists for key in keys))
    return [_fold(keys, nodes) for keys in key_lists]


def _keys(ranges: Sequence[tuple[int, int]]) -> list[Key]:
    """The stored nodes _range_hashes(ranges) reads, each once."""
    return list(dict.fromkeys(key for start, end in ranges for key in subtree_keys(start, end)))


def range_hash(start: int, end: int, get_nodes: GetNodes) -> bytes:
    """MTH(D[start:end]) for a range of the shape the RFC recursion uses (see subtree_keys)."""
    if start == end:
        return EMPTY_ROOT
    return _range_hashes([(start, end)], get_nodes)[0]


def root(n: int, get_nodes: GetNodes) -> bytes:
    """MTH(D[0:n]): popcount(n) node reads."""
    return range_hash(0, n, get_nodes)


def _path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PATH(index, D[0:size]), leaf side first."""
    ranges = []
    start, end = 0, size
    # Walk down from the root; the RFC lists the sibling at the top of the tree last.
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, get_nodes: GetNodes) -> list[bytes]:
    """RFC 6962 section 2.1.1 PATH(index, D[0:size]), in one get_nodes call."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    return _range_hashes(_path_ranges(index, size), get_nodes)


def inclusion_keys(index: int, size: int) -> list[Key]:
    """The stored nodes inclusion_proof(index, size) reads, for a caller that fetches them
    along with other data and then hands them back (``lambda keys: nodes``)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    return _keys(_path_ranges(index, size))


def _proof_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PROOF(m, D[0:n]) for 0 < m < n, in RFC order."""
    ranges = []
    start, end, whole = 0, n, True  # whole is the RFC's b flag: still inside D[0:m]'s spine
    while end - start != m:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def consistency_proof(m: int, n: int, get_nodes: GetNodes) -> list[bytes]:
    """RFC 6962 section 2.1.2 PROOF(m, D[0:n]); [] when m == 0 or m == n."""
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m in (0, n):
        return []
    return _range_hashes(_proof_ranges(m, n), get_nodes)


def consistency_keys(m: int, n: int) -> list[Key]:
    """The stored nodes consistency_proof(m, n) reads (see inclusion_keys)."""
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m in (0, n):
        return []
    return _keys(_proof_ranges(m, n))


# --- Verifying (RFC 9162 sections 2.1.3.2 and 2.1.4.2) --------------------------------------


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``path`` proves that leaf hash ``leaf_hash`` is leaf ``index`` of the tree of
    ``size`` leaves with root hash ``root``."""
    if not (_is_hash(leaf_hash) and _is_hash(root) and all(_is_hash(p) for p in path)):
        return False
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    result = bytes(leaf_hash)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(p, result)
            # fn is the last node of its level: skip the levels where it has no sibling.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == bytes(root)


def verify_consistency(
    m: int, n: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """Whether ``path`` proves the tree of size n (root ``new_root``) extends the tree of size
    m (root ``old_root``).

    For m == n the proof must be empty and the roots equal. For m == 0 the proof must be
    empty and ``old_root`` must be the empty-tree hash: unlike some libraries we do not
    accept an arbitrary old root there, since only one hash is the root of an empty tree.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in path)):
        return False
    old_root, new_root = bytes(old_root), bytes(new_root)
    if not 0 <= m <= n:
        return False
    if m == 0:
        return not path and old_root == EMPTY_ROOT and (n > 0 or new_root == EMPTY_ROOT)
    if m == n:
        return not path and old_root == new_root
    if not path:
        return False
    path = [bytes(p) for p in path]
    # When m is a power of two the old tree is a node of the new one and the RFC leaves its
    # hash out of the proof; the verifier supplies it.
    if m & (m - 1) == 0:
        path.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(c, first)
            second = node_hash(c, second)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == new_root


# --- In-memory store ------------------------------------------------------------------------


class MemoryStore:
    """The node store kept in a dict, built with the same functions the database uses.

    For tests, and for auditors who rebuild a published tree from its leaves.
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.nodes: dict[Key, bytes] = {}
        self.size = 0
        self.extend(leaves)

    def get_node(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def get_nodes(self, keys: list[Key]) -> dict[Key, bytes]:
        return {key: self.nodes[key] for key in keys if key in self.nodes}

    def append(self, data: bytes) -> int:
        """Append one leaf (raw data); returns its index."""
        return self.append_hash(leaf_hash(data))

    def append_hash(self, leaf: bytes) -> int:
        """Append one leaf given its leaf hash; returns its index."""
        for level, index, value in nodes_to_add(self.size, leaf, self.get_node):
            self.nodes[(level, index)] = value
        self.size += 1
        return self.size - 1

    def extend(self, leaves: Iterable[bytes]) -> int:
        """Append many leaves (raw data); returns the new size."""
        return self.extend_hashes(leaf_hash(data) for data in leaves)

    def extend_hashes(self, leaves: Iterable[bytes]) -> int:
        """Append many leaf hashes at once; returns the new size."""
        leaves = list(leaves)
        for level, index, value in nodes_to_add_batch(self.size, leaves, self.get_nodes):
            self.nodes[(level, index)] = value
        self.size += len(leaves)
        return self.size

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is beyond the stored {self.size} leaves")
        return size

    def root(self, size: int | None = None) -> bytes:
        return root(self._size(size), self.get_nodes)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._size(size), self.get_nodes)

    def consistency_proof(self, m: int, n: int | None = None) -> list[bytes]:
        return consistency_proof(m, self._size(n), self.get_nodes)
