"""The public log of each letter: its entries, the stored Merkle tree nodes over them, and the
signed checkpoints (tree heads) issued for it."""

from django.db import models
from django.utils import timezone

from .letters import Letter


class PublicLogEntry(models.Model):
    """One change to what a letter counts, as canonical JSON with no identity in it.

    `index` is the entry's sequence number in its letter's log: allocated under the Tally row
    lock in the transaction that makes the change, so it has no gaps and no duplicates.
    """

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="log_entries")
    index = models.BigIntegerField()
    data = models.BinaryField()
    # Copied out of `data` (where it is public anyway) so a receipt check finds what undid it.
    ref = models.CharField(max_length=64)

    class Meta:
        # The table keeps the name it was created with (the class was called LogEntry then).
        db_table = "petition_logentry"
        constraints = [
            models.UniqueConstraint(fields=["letter", "index"], name="log_entry_unique"),
        ]
        indexes = [
            # "Check my signature": the later entries that carry a receipt's ref.
            models.Index(fields=["letter", "ref"], name="log_entry_ref_idx"),
        ]

    def __str__(self) -> str:
        return f"log entry {self.index} of letter {self.letter_id}"


class LogNode(models.Model):
    """The hash of a complete subtree covering leaves [index * 2**level, (index + 1) * 2**level):
    any root or proof is a fold of O(log n) of these, read in one query."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="+")
    level = models.SmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "level", "index"], name="log_node_unique"),
        ]

    def __str__(self) -> str:
        return f"log node ({self.level}, {self.index}) of letter {self.letter_id}"


class Checkpoint(models.Model):
    """A signed tree head (C2SP tlog-checkpoint in a signed note). Every one issued is kept."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="checkpoints")
    size = models.BigIntegerField()
    root = models.BinaryField(max_length=32)
    note = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "size"], name="checkpoint_size_unique"),
        ]
        get_latest_by = "size"

    def __str__(self) -> str:
        return f"checkpoint of {self.size} for letter {self.letter_id}"
