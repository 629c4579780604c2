"""C2SP signed notes (c2sp.org/signed-note) and tlog checkpoints (c2sp.org/tlog-checkpoint).

Only Ed25519 signatures (type 0x01) are supported. Keys use the text encodings of Go's
golang.org/x/mod/sumdb/note package, so keys and notes made here work with Go tooling and
the other way round:

* verifier key: ``<name>+<hex key ID>+<base64(0x01 || 32-byte public key)>``
* signer key:   ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>``

A signed note is ``text`` (ending in a newline), a blank line, then lines
``— <name> <base64(4-byte key ID || signature)>``; the signature covers the text's bytes.
"""

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
# The spec asks verifiers to accept at least 16 signatures and to cap the count so a
# hostile note cannot make us verify forever; Go's implementation uses 100.
MAX_SIGNATURES = 100
ROOT_HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1

# ASCII control characters other than newline; notes must not contain them.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """Base class for everything this module rejects."""


class MalformedNoteError(NoteError):
    """The note does not follow the signed-note syntax."""


class UnverifiedNoteError(NoteError):
    """The note is well formed but carries no signature from the expected key."""


class InvalidSignatureError(NoteError):
    """A signature line names the expected key but the signature does not verify."""


class KeyFormatError(NoteError):
    """A verifier or signer key string is malformed or inconsistent."""


class CheckpointError(NoteError):
    """A checkpoint body is not in the canonical tlog-checkpoint form."""


def is_valid_name(name: str) -> bool:
    """Key names are non-empty and contain no Unicode spaces and no plus sign."""
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and not any(char.isspace() for char in name)
        and not _CONTROL.search(name)
        and _is_utf8(name)
    )


def _is_utf8(text: str) -> bool:
    # A Python str can hold lone surrogates, which have no UTF-8 encoding.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(text: str) -> bytes:
    """Standard padded base64, refusing anything but the one canonical spelling."""
    if not _BASE64.fullmatch(text):
        raise ValueError("not base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError("not base64") from error
    # Unused low bits in the last character must be zero, so each value has one encoding.
    if _b64encode(raw) != text:
        raise ValueError("non-canonical base64")
    return raw


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4], the Ed25519 key ID."""
    return hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key
    ).digest()[:4]


def _parse_key(text: str) -> tuple[str, bytes, bytes]:
    """Split ``<name>+<hex key ID>+<base64 key>`` (the key's base64 may itself contain +)."""
    name, _, rest = text.partition("+")
    hex_id, _, encoded = rest.partition("+")
    if not is_valid_name(name):
        raise KeyFormatError("bad key name")
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise KeyFormatError("key ID must be 8 hex digits")
    try:
        raw = _b64decode(encoded)
    except ValueError as error:
        raise KeyFormatError("bad key encoding") from error
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise KeyFormatError("not an Ed25519 key")
    return name, bytes.fromhex(hex_id), raw[1:]


def _note_text_bytes(text: str) -> bytes:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    if _CONTROL.search(text) or not _is_utf8(text):
        raise MalformedNoteError("note text has control characters or invalid UTF-8")
    return text.encode("utf-8")


class Verifier:
    """Checks notes for a signature by one Ed25519 key."""

    def __init__(self, name: str, public_key: bytes) -> None:
        if not is_valid_name(name):
            raise KeyFormatError("bad key name")
        if len(public_key) != 32:
            raise KeyFormatError("Ed25519 public keys are 32 bytes")
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, self.public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> "Verifier":
        name, claimed_id, public_key = _parse_key(vkey)
        verifier = cls(name, public_key)
        if verifier.key_id != claimed_id:
            raise KeyFormatError("key ID does not match the name and key")
        return verifier

    def vkey(self) -> str:
        return (
            f"{self.name}+{self.key_id.hex()}+{_b64encode(bytes([ALG_ED25519]) + self.public_key)}"
        )

    def verify(self, note: str | bytes) -> str:
        """Return the note's text if it carries a valid signature by this key.

        Signature lines from other keys (name and key ID not both ours) are ignored, as the
        spec requires. Every line from our key must verify; one bad one rejects the note.
        """
        text, signatures = parse_note(note)
        message = text.encode("utf-8")
        verified = False
        for name, signature_key_id, signature in signatures:
            if name != self.name or signature_key_id != self.key_id:
                continue
            try:
                self._key.verify(signature, message)
            except InvalidSignature:
                raise InvalidSignatureError(f"bad signature from {self.name}") from None
            verified = True
        if not verified:
            raise UnverifiedNoteError(f"note has no signature from {self.name}+{self.key_id.hex()}")
        return text


class Signer:
    """Signs notes with one Ed25519 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_name(name):
            raise KeyFormatError("bad key name")
        self.name = name
        self._private_key = private_key
        self.public_key = private_key.public_key().public_bytes_raw()
        self.key_id = key_id(name, self.public_key)

    @classmethod
    def from_private_key(cls, private_key: str) -> "Signer":
        if not isinstance(private_key, str) or not private_key.startswith(PRIVATE_KEY_PREFIX):
            raise KeyFormatError("signer keys start with PRIVATE+KEY+")
        name, claimed_id, seed = _parse_key(private_key.removeprefix(PRIVATE_KEY_PREFIX))
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        # The ID is of the public key, so it can only be checked after deriving that.
        if signer.key_id != claimed_id:
            raise KeyFormatError("key ID does not match the name and key")
        return signer

    def private_key(self) -> str:
        """The PRIVATE+KEY+... encoding. Secret."""
        seed = self._private_key.private_bytes_raw()
        encoded = _b64encode(bytes([ALG_ED25519]) + seed)
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{encoded}"

    def vkey(self) -> str:
        return self.verifier().vkey()

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public_key)

    def sign_note(self, text: str) -> str:
        """Return ``text`` followed by a blank line and this key's signature line."""
        signature = self._private_key.sign(_note_text_bytes(text))
        encoded = _b64encode(self.key_id + signature)
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {encoded}\n"


def generate_private_key(name: str) -> str:
    """A new random Ed25519 signer key, in PRIVATE+KEY+... form."""
    return Signer(name, Ed25519PrivateKey.generate()).private_key()


def parse_note(note: str | bytes) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its text and its (name, key ID, signature) lines, unverified.

    Raises MalformedNoteError on any syntax error, including in lines from unknown keys.
    """
    if isinstance(note, bytes | bytearray):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNoteError("note is not UTF-8") from None
    if not isinstance(note, str) or not _is_utf8(note):
        raise MalformedNoteError("note is not UTF-8 text")
    if _CONTROL.search(note):
        raise MalformedNoteError("note has control characters")
    # The text may itself contain blank lines; the last one separates the signatures.
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("no signature lines, or the last one has no newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError("too many signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedNoteError("signature lines start with an em dash and a space")
        name, _, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        if not is_valid_name(name):
            raise MalformedNoteError("bad key name in signature line")
        try:
            raw = _b64decode(encoded)
        except ValueError:
            raise MalformedNoteError("bad base64 in signature line") from None
        if len(raw) < 5:
            raise MalformedNoteError("signature too short")
        signatures.append((name, raw[:4], raw[4:]))
    return text, signatures


def format_checkpoint(origin: str, size: int, root: bytes) -> str:
    """The tlog-checkpoint note text: origin, tree size, base64 root hash, no extensions.

    The origin doubles as our key name, so it must also be a valid key name.
    """
    if not is_valid_name(origin):
        raise CheckpointError("origin must be non-empty with no spaces, plus signs or controls")
    if type(size) is not int or not 0 <= size <= MAX_TREE_SIZE:
        raise CheckpointError("tree size must be an integer in [0, 2**64)")
    if not isinstance(root, bytes | bytearray | memoryview) or len(root) != ROOT_HASH_SIZE:
        raise CheckpointError("root hash must be 32 bytes")
    return f"{origin}\n{size}\n{_b64encode(bytes(root))}\n"


def parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """Parse a checkpoint note text (not a signed note: pass Verifier.verify's result).

    Returns (origin, tree size, root hash). Refuses anything not in canonical form: size
    with leading zeros or signs, non-canonical base64, a root that is not 32 bytes. Extension
    lines are allowed by the spec and ignored here, but must be non-empty.
    """
    if not isinstance(text, str) or not text.endswith("\n"):
        raise CheckpointError("checkpoint must end with a newline")
    if _CONTROL.search(text) or not _is_utf8(text):
        raise CheckpointError("checkpoint has control characters or invalid UTF-8")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs origin, size and root hash lines")
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise CheckpointError("empty origin")
    if not _TREE_SIZE.fullmatch(size_line) or int(size_line) > MAX_TREE_SIZE:
        raise CheckpointError("tree size must be a decimal number without leading zeros")
    try:
        root = _b64decode(root_line)
    except ValueError:
        raise CheckpointError("root hash is not canonical base64") from None
    if len(root) != ROOT_HASH_SIZE:
        raise CheckpointError("root hash must be 32 bytes")
    if any(line == "" for line in extensions):
        raise CheckpointError("empty extension line")
    return origin, int(size_line), root
