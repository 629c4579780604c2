"""A letter's counts, kept exact by the write paths: the totals, the employees per domain, the
change per day, and the milestones the count has passed."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .letters import Letter


class Tally(models.Model):
    """A letter's counts, kept exact by the write paths (never by counting rows on a request).

    Only verified, non-withdrawn, non-hidden signatures and approved co-signatures count.
    """

    letter = models.OneToOneField(Letter, on_delete=models.CASCADE, primary_key=True)
    verified = models.IntegerField(default=0)
    public = models.IntegerField(default=0)
    anonymous = models.IntegerField(default=0)
    private = models.IntegerField(default=0)
    employees = models.IntegerField(default=0)
    cosigners = models.IntegerField(default=0)
    # The next sequence number of the letter's public log; incremented under the row lock.
    log_size = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "tallies"
        constraints = [
            models.CheckConstraint(condition=Q(verified__gte=0), name="tally_not_negative"),
        ]

    def __str__(self) -> str:
        return f"tally of letter {self.letter_id}"


class DomainTally(models.Model):
    """Verified employees per employer domain, for the breakdown."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="domain_tallies")
    domain = models.CharField(max_length=253)
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "domain"], name="domain_tally_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.domain}: {self.count}"


class DailyTally(models.Model):
    """Net change of the count per day, for the signatures-over-time chart."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="daily_tallies")
    day = models.DateField()
    change = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "day"], name="daily_tally_unique"),
        ]
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.change:+d}"


class Milestone(models.Model):
    """A count a letter passed (its goal, or 100, 1,000, 10,000...): organisers are told once."""

    letter = models.ForeignKey(Letter, on_delete=models.CASCADE, related_name="milestones")
    threshold = models.PositiveIntegerField()
    reached_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "threshold"], name="milestone_once"),
        ]
        ordering = ["threshold"]

    def __str__(self) -> str:
        return f"{self.letter_id} passed {self.threshold}"
