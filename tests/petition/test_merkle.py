import ast
import hashlib
import math
import random

import pytest

from lib import merkle
from lib.merkle import (
    EMPTY_ROOT,
    MemoryStore,
    MissingNodeError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_to_add,
    nodes_to_add_batch,
    range_hash,
    root,
    subtree_keys,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle_reference import mth, ref_path, ref_proof

h = bytes.fromhex

# The eight leaf inputs shared by the certificate-transparency Merkle tests
# (google/certificate-transparency merkle_tree_test.cc, transparency-dev/merkle testonly).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]

# Root hash of the tree of the first n CT_LEAVES, indexed by n.
CT_ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# Every complete subtree of the 8-leaf tree, by level then index (testonly.NodeHashes).
CT_NODES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]

# (leaf index, tree size, path), from transparency-dev/merkle proof/verify_test.go (which
# numbers leaves from 1; converted to 0-based indexes here).
CT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (old size, new size, proof), from the same file.
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def data(i: int) -> bytes:
    return f"leaf {i}".encode()


def leaves_for(n: int) -> list[bytes]:
    return [data(i) for i in range(n)]


class Counter:
    """Wraps a store's get_nodes and records every call."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.calls: list[list[tuple[int, int]]] = []

    def __call__(self, keys):
        self.calls.append(list(keys))
        return self.store.get_nodes(keys)

    @property
    def keys_read(self) -> int:
        return sum(len(keys) for keys in self.calls)


def flip(value: bytes, bit: int = 3) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


# --- Hashing primitives ---------------------------------------------------------------------


def test_hash_primitives_are_the_rfc_ones():
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    # Domain separation: a leaf can never pass for an interior node.
    assert leaf_hash(left + right) != node_hash(left, right)


# --- Published CT vectors -------------------------------------------------------------------


@pytest.mark.parametrize("n", range(9))
def test_ct_roots_reference(n):
    assert mth(CT_LEAVES[:n]) == CT_ROOTS[n]


@pytest.mark.parametrize("n", range(9))
def test_ct_roots_store(n):
    store = MemoryStore(CT_LEAVES)
    assert store.root(n) == CT_ROOTS[n]
    assert MemoryStore(CT_LEAVES[:n]).root() == CT_ROOTS[n]


def test_ct_stored_nodes_are_exactly_the_complete_subtrees():
    store = MemoryStore(CT_LEAVES)
    expected = {
        (level, index): value
        for level, row in enumerate(CT_NODES)
        for index, value in enumerate(row)
    }
    assert store.nodes == expected


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_vectors(index, size, path):
    assert ref_path(index, CT_LEAVES[:size]) == path
    assert MemoryStore(CT_LEAVES).inclusion_proof(index, size) == path
    assert verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, path, CT_ROOTS[size])


@pytest.mark.parametrize(("m", "n", "proof"), CT_CONSISTENCY)
def test_ct_consistency_vectors(m, n, proof):
    assert ref_proof(m, CT_LEAVES[:n]) == proof
    assert MemoryStore(CT_LEAVES).consistency_proof(m, n) == proof
    assert verify_consistency(m, n, CT_ROOTS[m], CT_ROOTS[n], proof)


# --- Stored-node implementation against the literal reference -------------------------------


def check_inclusion(store: MemoryStore, leaves: list[bytes], index: int, size: int) -> None:
    tree = leaves[:size]
    path = store.inclusion_proof(index, size)
    assert path == ref_path(index, tree)
    top = mth(tree)
    leaf = leaf_hash(tree[index])
    assert verify_inclusion(leaf, index, size, path, top)
    # Tampering in any way breaks the proof.
    assert not verify_inclusion(flip(leaf), index, size, path, top)
    assert not verify_inclusion(leaf, index, size, path, flip(top))
    for i in range(len(path)):
        assert not verify_inclusion(
            leaf, index, size, path[:i] + [flip(path[i])] + path[i + 1 :], top
        )
    if path:
        assert not verify_inclusion(leaf, index, size, path[:-1], top)
    assert not verify_inclusion(leaf, index, size, [*path, top], top)
    assert not verify_inclusion(leaf, index, size, [top, *path], top)
    for other in (index - 1, index + 1, index ^ 2):
        if 0 <= other < size and tree[other] != tree[index]:
            assert not verify_inclusion(leaf, other, size, path, top)
    assert not verify_inclusion(leaf, index, size * 2, path, top)
    if size > 1:
        assert not verify_inclusion(leaf, index, size // 2, path, top)


def check_consistency(store: MemoryStore, leaves: list[bytes], m: int, n: int) -> None:
    proof = store.consistency_proof(m, n)
    assert proof == ref_proof(m, leaves[:n])
    old, new = mth(leaves[:m]), mth(leaves[:n])
    assert verify_consistency(m, n, old, new, proof)
    if m in (0, n):
        assert proof == []
        return
    assert proof
    assert not verify_consistency(m, n, flip(old), new, proof)
    assert not verify_consistency(m, n, old, flip(new), proof)
    assert not verify_consistency(m, n, new, old, proof)
    assert not verify_consistency(m, n, old, new, [])
    for i in range(len(proof)):
        tampered = proof[:i] + [flip(proof[i], 4)] + proof[i + 1 :]
        assert not verify_consistency(m, n, old, new, tampered)
    assert not verify_consistency(m, n, old, new, proof[:-1])
    assert not verify_consistency(m, n, old, new, [*proof, new])
    assert not verify_consistency(m, n, old, new, [old, *proof])
    assert not verify_consistency(m, n, old, new, [proof[0], *proof])
    for other in (m - 1, m + 1, m ^ 2):
        if 0 < other < n and other != m:
            assert not verify_consistency(other, n, old, new, proof)
    assert not verify_consistency(m, n * 2, old, new, proof)
    assert not verify_consistency(m, n // 2, old, new, proof)


SMALL = leaves_for(64)
SMALL_STORE = MemoryStore(SMALL)


@pytest.mark.parametrize("size", range(1, 65))
def test_small_trees_inclusion(size):
    assert SMALL_STORE.root(size) == mth(SMALL[:size])
    for index in range(size):
        check_inclusion(SMALL_STORE, SMALL, index, size)


@pytest.mark.parametrize("n", range(1, 65))
def test_small_trees_consistency(n):
    for m in range(n + 1):
        check_consistency(SMALL_STORE, SMALL, m, n)


@pytest.mark.parametrize("size", [1000, 1025, 4097])
def test_large_trees_against_reference(size):
    leaves = leaves_for(size)
    store = MemoryStore(leaves)
    assert store.root() == mth(leaves)
    rng = random.Random(size)
    edges = {0, 1, size // 2, size - 2, size - 1}
    for index in sorted(edges | set(rng.sample(range(size), 12))):
        check_inclusion(store, leaves, index, size)
    powers = {1 << i for i in range(size.bit_length()) if 1 << i <= size}
    for m in sorted(edges | powers | {size} | set(rng.sample(range(1, size), 12))):
        check_consistency(store, leaves, m, size)
    # Proofs for an older, smaller tree still come out of the grown store.
    old = size - 37
    assert store.root(old) == mth(leaves[:old])
    check_inclusion(store, leaves, old // 3, old)
    check_consistency(store, leaves, old // 3, old)


def test_every_valid_range_hash_matches_the_reference():
    for start in range(64):
        for end in range(start + 1, 65):
            size = end - start
            aligned = start % (1 << (size - 1).bit_length()) == 0
            if aligned:
                assert range_hash(start, end, SMALL_STORE.get_nodes) == mth(SMALL[start:end])
            else:
                with pytest.raises(ValueError):
                    subtree_keys(start, end)


# --- Storage layout and writes --------------------------------------------------------------


def test_subtree_keys():
    assert subtree_keys(0, 0) == []
    assert subtree_keys(0, 1) == [(0, 0)]
    assert subtree_keys(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert subtree_keys(8, 13) == [(2, 2), (0, 12)]
    assert subtree_keys(16, 32) == [(4, 1)]
    assert subtree_keys(0, 1000) == [(9, 0), (8, 2), (7, 6), (6, 14), (5, 30), (3, 124)]
    for bad in [(3, 2), (-1, 2), (1, 3), (2, 5), (4, 9)]:
        with pytest.raises(ValueError):
            subtree_keys(*bad)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 7, 8, 63, 64, 100, 1000])
def test_store_holds_every_complete_subtree_and_nothing_else(n):
    leaves = leaves_for(n)
    store = MemoryStore()
    for item in leaves:
        store.append(item)
    expected = {(level, index) for level in range(n.bit_length()) for index in range(n >> level)}
    assert set(store.nodes) == expected
    for level, index in expected:
        covered = leaves[index << level : (index + 1) << level]
        assert store.nodes[(level, index)] == mth(covered)


def test_nodes_to_add_reads_only_left_siblings():
    store = MemoryStore(leaves_for(11))  # 0b1011: two trailing ones
    reads = []

    def get_node(level, index):
        reads.append((level, index))
        return store.get_node(level, index)

    new_leaf = leaf_hash(data(11))
    added = nodes_to_add(11, new_leaf, get_node)
    assert reads == [(0, 10), (1, 4)]
    assert [(level, index) for level, index, _ in added] == [(0, 11), (1, 5), (2, 2)]
    assert added[0][2] == new_leaf
    assert added[-1][2] == mth(leaves_for(12)[8:12])
    # An even index completes nothing but itself.
    assert nodes_to_add(12, new_leaf, get_node) == [(0, 12, new_leaf)]
    assert len(reads) == 2


def test_batches_build_the_same_store_as_single_appends():
    leaves = leaves_for(3000)
    single = MemoryStore()
    for item in leaves:
        single.append(item)
    rng = random.Random(7)
    batched = MemoryStore()
    position = 0
    while position < len(leaves):
        step = rng.choice([0, 1, 2, 3, 7, 64, 100, 513])
        assert batched.extend(leaves[position : position + step]) == min(
            position + step, len(leaves)
        )
        position += step
    assert batched.nodes == single.nodes
    assert batched.size == single.size == 3000


def test_batch_append_is_one_bulk_read_of_log_n_nodes():
    store = MemoryStore(leaves_for(5000))
    counter = Counter(store)
    new = [leaf_hash(data(i)) for i in range(5000, 6000)]
    added = nodes_to_add_batch(store.size, new, counter)
    assert len(counter.calls) == 1
    assert counter.keys_read <= math.ceil(math.log2(5000))
    # It asks only for peaks of the old tree, which are all stored.
    assert set(counter.calls[0]) <= set(subtree_keys(0, 5000))
    for level, index, value in added:
        store.nodes[(level, index)] = value
    store.size = 6000
    assert store.nodes == MemoryStore(leaves_for(6000)).nodes


def test_batch_append_reads_nothing_when_no_stored_sibling_is_needed():
    store = MemoryStore(leaves_for(8))
    counter = Counter(store)
    # 8 + 3 leaves: no old peak gets a parent, so no query at all.
    nodes_to_add_batch(8, [leaf_hash(data(i)) for i in range(8, 11)], counter)
    assert counter.calls == []
    assert nodes_to_add_batch(8, [], counter) == []


# --- Proofs read O(log n) nodes in one call -------------------------------------------------


BIG_SIZE = (1 << 16) + 12345
BIG_LEAVES = leaves_for(BIG_SIZE)


@pytest.fixture(scope="module")
def big_store():
    return MemoryStore(BIG_LEAVES)


def test_big_root_is_right(big_store):
    assert big_store.root() == mth(BIG_LEAVES)


def read_bound(n: int) -> int:
    return 2 * math.ceil(math.log2(n)) + 2


def test_proofs_are_one_bulk_read_of_log_n_nodes(big_store):
    rng = random.Random(1)
    sizes = [BIG_SIZE, BIG_SIZE - 1, 1 << 16, (1 << 16) + 1, 50_001]
    for size in sizes:
        counter = Counter(big_store)
        assert root(size, counter) == big_store.root(size)
        assert len(counter.calls) == 1
        assert counter.keys_read == bin(size).count("1")

        for index in [0, size - 1, size // 2, *rng.sample(range(size), 20)]:
            counter = Counter(big_store)
            path = inclusion_proof(index, size, counter)
            assert len(counter.calls) == 1
            assert counter.keys_read <= read_bound(size)
            assert verify_inclusion(
                leaf_hash(BIG_LEAVES[index]), index, size, path, big_store.root(size)
            )

        for m in [1, 2, size - 1, size // 2, 1 << 15, *rng.sample(range(1, size), 20)]:
            counter = Counter(big_store)
            proof = consistency_proof(m, size, counter)
            assert len(counter.calls) == 1
            assert counter.keys_read <= read_bound(size)
            assert verify_consistency(m, size, big_store.root(m), big_store.root(size), proof)


def read(counter: Counter) -> list[tuple[int, int]]:
    """The keys of the proof's single read (a proof with no hashes reads nothing)."""
    assert len(counter.calls) <= 1
    return counter.calls[0] if counter.calls else []


def test_proof_keys_name_exactly_the_nodes_a_proof_reads(big_store):
    rng = random.Random(2)
    for size in [1, 2, 3, 7, 8, 9, BIG_SIZE, BIG_SIZE - 1, 1 << 16, 50_001]:
        for index in {0, size - 1, size // 2, *rng.sample(range(size), min(size, 10))}:
            counter = Counter(big_store)
            path = inclusion_proof(index, size, counter)
            keys = merkle.inclusion_keys(index, size)
            assert keys == read(counter)
            # Handed back without the store, the named nodes are enough for the proof.
            nodes = big_store.get_nodes(keys)
            assert inclusion_proof(index, size, lambda _keys: nodes) == path
        for m in {0, 1, size - 1, size, size // 2, *rng.sample(range(size + 1), min(size, 10))}:
            counter = Counter(big_store)
            proof = consistency_proof(m, size, counter)
            keys = merkle.consistency_keys(m, size)
            assert keys == read(counter)
            nodes = big_store.get_nodes(keys)
            assert consistency_proof(m, size, lambda _keys: nodes) == proof


def test_proof_keys_refuse_what_the_proofs_refuse():
    for index, size in [(5, 5), (-1, 5), (0, 0)]:
        with pytest.raises(ValueError):
            merkle.inclusion_keys(index, size)
    for m, n in [(4, 3), (-1, 3)]:
        with pytest.raises(ValueError):
            merkle.consistency_keys(m, n)


def test_big_proofs_match_reference_on_a_sample(big_store):
    # The literal recursion is O(n) per proof; a few samples are enough at this size.
    for index in [0, 40_000, BIG_SIZE - 1]:
        assert big_store.inclusion_proof(index) == ref_path(index, BIG_LEAVES)
    for m in [3, 1 << 16, 70_000]:
        assert big_store.consistency_proof(m) == ref_proof(m, BIG_LEAVES)


def test_trivial_proofs_read_nothing(big_store):
    counter = Counter(big_store)
    assert consistency_proof(0, 10, counter) == []
    assert consistency_proof(10, 10, counter) == []
    assert inclusion_proof(0, 1, counter) == []
    assert root(0, counter) == EMPTY_ROOT
    assert counter.calls == []


# --- Errors ---------------------------------------------------------------------------------


def test_missing_nodes_are_reported():
    store = MemoryStore(leaves_for(10))
    with pytest.raises(MissingNodeError):
        root(11, store.get_nodes)
    with pytest.raises(MissingNodeError):
        inclusion_proof(3, 16, store.get_nodes)
    with pytest.raises(ValueError):
        store.root(11)


def test_memoryview_nodes_are_accepted():
    store = MemoryStore(leaves_for(13))

    def get_nodes(keys):
        return {key: memoryview(value) for key, value in store.get_nodes(keys).items()}

    assert root(13, get_nodes) == mth(leaves_for(13))
    assert isinstance(inclusion_proof(4, 13, get_nodes)[0], bytes)


def test_bad_arguments():
    store = MemoryStore(leaves_for(5))
    with pytest.raises(ValueError):
        store.inclusion_proof(5)
    with pytest.raises(ValueError):
        store.inclusion_proof(-1)
    with pytest.raises(ValueError):
        store.inclusion_proof(0, 0)
    with pytest.raises(ValueError):
        store.consistency_proof(4, 3)
    with pytest.raises(ValueError):
        store.append_hash(b"short")
    with pytest.raises(ValueError):
        ref_path(3, [b"a", b"b"])
    with pytest.raises(ValueError):
        ref_proof(3, [b"a", b"b"])


# --- Verifier edge cases (from transparency-dev/merkle proof/verify_test.go) ----------------


def test_verify_inclusion_single_entry():
    value = leaf_hash(b"data")
    assert verify_inclusion(value, 0, 1, [], value)
    assert not verify_inclusion(b"", 0, 1, [], value)
    assert not verify_inclusion(value, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], b"")


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_verify_inclusion_rejects_impossible_positions(index, size):
    assert not verify_inclusion(SOME_HASH, index, size, [], b"")
    assert not verify_inclusion(b"", index, size, [], EMPTY_ROOT)
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


def test_verify_inclusion_rejects_wrong_length_path_items():
    path = CT_INCLUSION[1][2]
    leaf = leaf_hash(CT_LEAVES[0])
    assert verify_inclusion(leaf, 0, 8, path, CT_ROOTS[8])
    assert not verify_inclusion(leaf, 0, 8, [*path, b""], CT_ROOTS[8])
    assert not verify_inclusion(leaf, 0, 8, [path[0] + b"\x00", *path[1:]], CT_ROOTS[8])


def test_verify_consistency_trivial_cases():
    a, b = CT_ROOTS[3], CT_ROOTS[5]
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, b, [])
    assert verify_consistency(3, 3, a, a, [])
    assert not verify_consistency(0, 0, a, a, [])  # only one hash is the empty tree's root
    assert not verify_consistency(0, 5, a, b, [])
    assert not verify_consistency(3, 3, a, b, [])
    assert not verify_consistency(1, 0, a, b, [])
    assert not verify_consistency(2, 1, a, b, [])
    assert not verify_consistency(1, 2, a, b, [])  # empty proof for a real extension
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(3, 3, a, a, [a])
    assert not verify_consistency(3, 3, b"x", b"x", [])


def test_module_imports_only_the_standard_library():
    # Auditors run this file on its own, without the project's dependencies.
    with open(merkle.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"hashlib", "collections"}


def test_verifiers_reject_paths_that_run_past_the_root():
    # One hash too many would otherwise "prove" membership in a made-up bigger tree.
    leaf = leaf_hash(b"x")
    assert not verify_inclusion(leaf, 0, 1, [SOME_HASH], node_hash(SOME_HASH, leaf))
    index, size, path = CT_INCLUSION[2]
    fake_root = node_hash(SOME_HASH, CT_ROOTS[size])
    assert not verify_inclusion(
        leaf_hash(CT_LEAVES[index]), index, size, [*path, SOME_HASH], fake_root
    )
    m, n, proof = CT_CONSISTENCY[2]
    fake_old = node_hash(SOME_HASH, CT_ROOTS[m])
    fake_new = node_hash(SOME_HASH, CT_ROOTS[n])
    assert not verify_consistency(m, n, fake_old, fake_new, [*proof, SOME_HASH])
