import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lib.signed_note import (
    CheckpointError,
    InvalidSignatureError,
    KeyFormatError,
    MalformedNoteError,
    NoteError,
    Signer,
    UnverifiedNoteError,
    Verifier,
    format_checkpoint,
    generate_private_key,
    key_id,
    parse_checkpoint,
    parse_note,
)

# Test vectors from Go's golang.org/x/mod/sumdb/note (package documentation and note_test.go).
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
    "qdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTG"
    "wnWLox33WWd1RvMc+QQ=\n"
)

# The example checkpoint in c2sp.org/tlog-checkpoint (its key is not published).
C2SP_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7"
    "u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)

ROOT = hashlib.sha256(b"some tree").digest()
ORIGIN = "example.org/letters/my-slug"


@pytest.fixture(scope="module")
def signer():
    return Signer.from_private_key(generate_private_key(ORIGIN))


@pytest.fixture(scope="module")
def verifier(signer):
    return Verifier.from_vkey(signer.vkey())


def raw_public_key(vkey: str) -> bytes:
    encoded = vkey.split("+", 2)[2]
    raw = base64.b64decode(encoded)
    assert raw[0] == 0x01
    return raw[1:]


# --- Go's vectors ---------------------------------------------------------------------------


def test_go_key_ids_follow_the_key_id_rule():
    # Recomputed by hand from the name and key in each vkey, never through our code.
    for vkey in (PETER_VKEY, ENOCH_VKEY):
        name, hex_id, _ = vkey.split("+", 2)
        public_key = raw_public_key(vkey)
        digest = hashlib.sha256(name.encode() + b"\n" + b"\x01" + public_key).digest()
        assert digest[:4].hex() == hex_id
        assert key_id(name, public_key).hex() == hex_id


def test_go_signer_key_reproduces_the_go_signed_note():
    signer = Signer.from_private_key(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_id == bytes.fromhex("c74f20a3")
    assert signer.vkey() == PETER_VKEY
    assert signer.private_key() == PETER_SKEY
    # Ed25519 is deterministic, so the whole note must match Go's output byte for byte.
    assert signer.sign_note(GO_TEXT) == GO_TEXT + "\n" + PETER_SIG


def test_go_notes_verify():
    peter = Verifier.from_vkey(PETER_VKEY)
    enoch = Verifier.from_vkey(ENOCH_VKEY)
    assert peter.vkey() == PETER_VKEY
    assert enoch.vkey() == ENOCH_VKEY
    both = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    # Each verifier ignores the other's (to it unknown) signature.
    assert peter.verify(both) == GO_TEXT
    assert enoch.verify(both) == GO_TEXT
    assert peter.verify(GO_TEXT + "\n" + PETER_SIG) == GO_TEXT
    with pytest.raises(UnverifiedNoteError):
        peter.verify(GO_TEXT + "\n" + ENOCH_SIG)
    assert peter.verify((GO_TEXT + "\n" + PETER_SIG).encode()) == GO_TEXT


def test_go_signature_line_matches_an_independent_rebuild():
    public_key = raw_public_key(PETER_VKEY)
    raw = base64.b64decode(PETER_SIG.removeprefix("\u2014 PeterNeumann ").rstrip("\n"))
    assert raw[:4] == bytes.fromhex("c74f20a3")
    Ed25519PublicKey.from_public_bytes(public_key).verify(raw[4:], GO_TEXT.encode())


def test_go_invalid_signature_is_rejected():
    # note_test.go: a corrupted signature from a known key rejects the whole note.
    corrupted = GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidSignatureError):
        Verifier.from_vkey(PETER_VKEY).verify(corrupted)


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT + "\n\u2014 Bad Name " + PETER_SIG.split(" ")[2],
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_go_malformed_notes(note):
    with pytest.raises(MalformedNoteError):
        Verifier.from_vkey(PETER_VKEY).verify(note)


def test_invalid_utf8_bytes_are_malformed():
    with pytest.raises(MalformedNoteError):
        Verifier.from_vkey(PETER_VKEY).verify(b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode())


def manglings(key: str):
    """Every proper substring and every single-character increment (as Go's tests do)."""
    for i in range(len(key) + 1):
        for j in range(i + 1, len(key) + 1):
            if (i, j) != (0, len(key)):
                yield key[i:j]
    for i in range(len(key)):
        yield key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :]


def test_mangled_vkeys_are_rejected():
    Verifier.from_vkey(PETER_VKEY)
    for bad in manglings(PETER_VKEY):
        with pytest.raises(KeyFormatError):
            Verifier.from_vkey(bad)
    # Go's note_test.go: wrong key length and unknown algorithm, each with a matching ID.
    with pytest.raises(KeyFormatError):
        Verifier.from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
    with pytest.raises(KeyFormatError):
        Verifier.from_vkey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_mangled_signer_keys_are_rejected():
    Signer.from_private_key(PETER_SKEY)
    for bad in manglings(PETER_SKEY):
        with pytest.raises(KeyFormatError):
            Signer.from_private_key(bad)


# --- Our own keys ---------------------------------------------------------------------------


def test_round_trip(signer, verifier):
    text = "hello\nworld\n"
    note = signer.sign_note(text)
    assert verifier.verify(note) == text
    assert signer.verifier().verify(note) == text
    assert verifier.name == signer.name == ORIGIN
    assert verifier.key_id == signer.key_id


def test_key_formats(signer):
    private_key = signer.private_key()
    name, hex_id, encoded = private_key.removeprefix("PRIVATE+KEY+").split("+", 2)
    assert private_key.startswith("PRIVATE+KEY+")
    assert name == ORIGIN
    assert len(hex_id) == 8 and hex_id == hex_id.lower()
    seed = base64.b64decode(encoded)
    assert len(seed) == 33 and seed[0] == 1
    public_key = Ed25519PrivateKey.from_private_bytes(seed[1:]).public_key().public_bytes_raw()
    expected_id = hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]
    assert hex_id == expected_id.hex()
    assert signer.vkey() == f"{name}+{hex_id}+" + base64.b64encode(b"\x01" + public_key).decode()
    assert Signer.from_private_key(private_key).vkey() == signer.vkey()


def test_signature_line_rebuilt_byte_by_byte(signer):
    text = format_checkpoint(ORIGIN, 42, ROOT)
    note = signer.sign_note(text)
    body, separator, signature_line = note.rpartition("\n\n")
    assert separator and body + "\n" == text
    assert signature_line.endswith("\n") and signature_line.count("\n") == 1
    assert signature_line.startswith("\u2014 ")
    assert signature_line.encode()[:4] == b"\xe2\x80\x94 "  # U+2014 in UTF-8, then a space
    name, encoded = signature_line[2:-1].split(" ")
    assert name == ORIGIN
    raw = base64.b64decode(encoded, validate=True)
    assert base64.b64encode(raw).decode() == encoded
    public_key = raw_public_key(signer.vkey())
    assert raw[:4] == hashlib.sha256(ORIGIN.encode() + b"\n" + b"\x01" + public_key).digest()[:4]
    assert len(raw) == 4 + 64
    # Signature is over exactly the text bytes: final newline in, blank line out.
    Ed25519PublicKey.from_public_bytes(public_key).verify(raw[4:], text.encode("utf-8"))


def test_generated_keys_differ():
    assert generate_private_key("a.example") != generate_private_key("a.example")


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "a\nb"])
def test_bad_key_names(name):
    with pytest.raises(KeyFormatError):
        generate_private_key(name)


def test_text_with_blank_lines_and_unicode(signer, verifier):
    # From c2sp.org/signed-note: the text may contain empty lines; the last one separates.
    text = (
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed è subito sera.\n"
    )
    assert verifier.verify(signer.sign_note(text)) == text
    # Even a text whose last line is empty survives the round trip.
    assert verifier.verify(signer.sign_note("a\n\n")) == "a\n\n"
    assert verifier.verify(signer.sign_note("\n")) == "\n"


@pytest.mark.parametrize(
    "text", ["", "no newline", "tab\there\n", "cr\r\n", "nul\x00\n", "\ud800\n"]
)
def test_unsignable_texts(signer, text):
    with pytest.raises(MalformedNoteError):
        signer.sign_note(text)


def test_tampered_text_is_rejected(signer, verifier):
    note = signer.sign_note(format_checkpoint(ORIGIN, 42, ROOT))
    tampered = note.replace("\n42\n", "\n43\n")
    assert tampered != note
    with pytest.raises(InvalidSignatureError):
        verifier.verify(tampered)


def test_tampered_signature_is_rejected(signer, verifier):
    note = signer.sign_note("text\n")
    text, signatures = parse_note(note)
    name, identifier, signature = signatures[0]
    bad = bytes([signature[0] ^ 1]) + signature[1:]
    forged = f"{text}\n\u2014 {name} {base64.b64encode(identifier + bad).decode()}\n"
    with pytest.raises(InvalidSignatureError):
        verifier.verify(forged)
    # A too-short signature from our key is a bad signature too, not a pass.
    short = f"{text}\n\u2014 {name} {base64.b64encode(identifier + signature[:10]).decode()}\n"
    with pytest.raises(InvalidSignatureError):
        verifier.verify(short)
    # And one bad line spoils the note even next to a good one.
    with pytest.raises(InvalidSignatureError):
        verifier.verify(note + forged.split("\n\n")[1])


def test_wrong_key_is_rejected(signer, verifier):
    other = Signer.from_private_key(generate_private_key("someone.else/log"))
    with pytest.raises(UnverifiedNoteError):
        verifier.verify(other.sign_note("text\n"))


def test_same_name_other_key_is_ignored(signer, verifier):
    # Same name, different key (so different key ID): an unknown key, ignored; alone it
    # leaves the note unverified, next to our signature it changes nothing.
    impostor = Signer.from_private_key(generate_private_key(ORIGIN))
    assert impostor.key_id != signer.key_id
    text = "text\n"
    with pytest.raises(UnverifiedNoteError):
        verifier.verify(impostor.sign_note(text))
    ours = signer.sign_note(text)
    theirs = impostor.sign_note(text).split("\n\n")[1]
    assert verifier.verify(ours + theirs) == text
    assert verifier.verify(text + "\n" + theirs + ours.split("\n\n")[1]) == text


def test_same_key_id_other_name_is_ignored(signer, verifier):
    note = signer.sign_note("text\n")
    renamed = note.replace(f"\u2014 {ORIGIN} ", "\u2014 other.example/log ")
    assert renamed != note
    with pytest.raises(UnverifiedNoteError):
        verifier.verify(renamed)


def test_unknown_key_only_note_is_unverified(verifier):
    with pytest.raises(UnverifiedNoteError):
        verifier.verify(C2SP_CHECKPOINT)


def test_error_classes_are_value_errors(verifier):
    for error in (
        MalformedNoteError,
        UnverifiedNoteError,
        InvalidSignatureError,
        KeyFormatError,
        CheckpointError,
    ):
        assert issubclass(error, NoteError)
    assert issubclass(NoteError, ValueError)
    with pytest.raises(ValueError):
        verifier.verify("garbage")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda note: note.replace("\n\n", "\n"),  # missing blank line
        lambda note: note[:-1],  # last signature line without newline
        lambda note: note + "\n",  # trailing blank line
        lambda note: note.replace("\u2014 ", "- "),  # hyphen instead of em dash
        lambda note: note.replace("\u2014 ", "\u2014"),  # no space after the dash
        lambda note: note.replace("\u2014 ", "\u2014  "),  # empty key name
        lambda note: note.rstrip("\n") + "!\n",  # not base64
        lambda note: note.replace("=\n", "\n"),  # missing padding
        lambda note: note.replace("\n", "\r\n"),  # CRLF
        lambda note: note.rsplit(" ", 1)[0] + " AAAA\n",  # too short to hold a signature
        lambda note: note.split("\n\n")[0] + "\n\n",  # no signature lines at all
    ],
)
def test_malformed_signed_notes(signer, verifier, mangle):
    note = signer.sign_note("line one\nline two\n")
    assert verifier.verify(note)
    mangled = mangle(note)
    assert mangled != note
    with pytest.raises(MalformedNoteError):
        verifier.verify(mangled)


def test_non_canonical_base64_is_malformed(signer, verifier):
    note = signer.sign_note("text\n")
    body, line = note.split("\n\n")
    encoded = line.rstrip("\n").rsplit(" ", 1)[1]
    # 68 bytes encode to 92 characters ending "X=": X carries 2 unused low bits.
    assert encoded.endswith("=") and not encoded.endswith("==")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(encoded[-2])
    assert last % 4 == 0
    sloppy = encoded[:-2] + alphabet[last + 1] + "="
    assert base64.b64decode(sloppy) == base64.b64decode(encoded)
    assert note.replace(encoded, sloppy) != note
    with pytest.raises(MalformedNoteError):
        verifier.verify(note.replace(encoded, sloppy))


# --- Checkpoints ----------------------------------------------------------------------------


def test_format_checkpoint():
    text = format_checkpoint(ORIGIN, 42, ROOT)
    assert text == f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n"
    assert format_checkpoint(ORIGIN, 0, ROOT).split("\n")[1] == "0"


def test_checkpoint_round_trip(signer, verifier):
    for size in (0, 1, 7, 1000, 2**63, 2**64 - 1):
        note = signer.sign_note(format_checkpoint(ORIGIN, size, ROOT))
        assert parse_checkpoint(verifier.verify(note)) == (ORIGIN, size, ROOT)


def test_c2sp_example_checkpoint_parses():
    text, signatures = parse_note(C2SP_CHECKPOINT)
    origin, size, root = parse_checkpoint(text)
    assert (origin, size) == ("example.com/behind-the-sofa", 20852163)
    assert root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert [name for name, _, _ in signatures] == ["example.com/behind-the-sofa"]


def test_extension_lines_are_allowed_but_not_empty():
    base = format_checkpoint(ORIGIN, 5, ROOT)
    assert parse_checkpoint(base + "ext one\next two\n") == (ORIGIN, 5, ROOT)
    with pytest.raises(CheckpointError):
        parse_checkpoint(base + "\n")
    with pytest.raises(CheckpointError):
        parse_checkpoint(base + "ext\n\nmore\n")


ROOT64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n007\n{ROOT64}\n",  # leading zeros
        f"{ORIGIN}\n00\n{ROOT64}\n",
        f"{ORIGIN}\n+7\n{ROOT64}\n",
        f"{ORIGIN}\n-1\n{ROOT64}\n",
        f"{ORIGIN}\n 7\n{ROOT64}\n",
        f"{ORIGIN}\n7 \n{ROOT64}\n",
        f"{ORIGIN}\n1_000\n{ROOT64}\n",
        f"{ORIGIN}\n\u0667\n{ROOT64}\n",  # ARABIC-INDIC DIGIT SEVEN: int() takes it
        f"{ORIGIN}\n0x10\n{ROOT64}\n",
        f"{ORIGIN}\n\n{ROOT64}\n",
        f"{ORIGIN}\n{2**64}\n{ROOT64}\n",  # beyond uint64
        f"{ORIGIN}\n7\n{ROOT64[:-1]}\n",  # bad padding
        f"{ORIGIN}\n7\n{ROOT64.rstrip('=')}\n",
        f"{ORIGIN}\n7\n{ROOT64[:-2]}!=\n",  # bad character
        f"{ORIGIN}\n7\n{ROOT64} \n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT[:31]).decode()}\n",  # 31-byte hash
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT + b'x').decode()}\n",  # 33-byte hash
        f"{ORIGIN}\n7\n{base64.urlsafe_b64encode(b'\xff' * 32).decode()}\n",  # URL alphabet
        f"{ORIGIN}\n7\n\n",
        f"\n7\n{ROOT64}\n",  # empty origin
        f"{ORIGIN}\n7\n{ROOT64}",  # no final newline
        f"{ORIGIN}\r\n7\r\n{ROOT64}\r\n",
        f"{ORIGIN}\n7\n",  # too few lines
        "",
    ],
)
def test_non_canonical_checkpoints_are_rejected(text):
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_non_canonical_root_base64_is_rejected():
    # 32 bytes encode to 44 characters ending "X=", with 2 unused low bits in X.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(ROOT64[-2])
    sloppy = ROOT64[:-2] + alphabet[last | 1] + "="
    assert sloppy != ROOT64 and base64.b64decode(sloppy) == ROOT
    with pytest.raises(CheckpointError):
        parse_checkpoint(f"{ORIGIN}\n7\n{sloppy}\n")


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [
        ("", 1, ROOT),
        ("has space", 1, ROOT),
        ("has+plus", 1, ROOT),
        ("new\nline", 1, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, 2**64, ROOT),
        (ORIGIN, True, ROOT),
        (ORIGIN, 1.0, ROOT),
        (ORIGIN, "1", ROOT),
        (ORIGIN, 1, ROOT[:31]),
        (ORIGIN, 1, ROOT + b"x"),
        (ORIGIN, 1, ROOT.hex()),
    ],
)
def test_format_checkpoint_rejects_bad_input(origin, size, root):
    with pytest.raises(CheckpointError):
        format_checkpoint(origin, size, root)
