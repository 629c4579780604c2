"""Milestones: the goal and every power of ten from 100 that a letter's count passes, recorded
once each and announced to its organisers."""

from django.contrib.auth import get_user_model
from django.db import transaction

from petition import emails
from petition.models import Letter, Milestone, Tally


def milestone_thresholds(count: int, goal: int | None) -> list[int]:
    """The milestones a count has passed: the goal, and 100, 1,000, 10,000..."""
    found = set()
    threshold = 100
    while threshold <= count:
        found.add(threshold)
        threshold *= 10
    if goal and goal <= count:
        found.add(goal)
    return sorted(found)


# Milestones this process has seen recorded, by letter: they are never deleted, so a count whose
# thresholds are all in here needs no query (the usual case, inside the tally's lock).
_recorded_milestones: dict[int, set[int]] = {}


def note_milestones(letter: Letter, verified: int) -> None:
    """After the count rose to `verified`: record and announce any milestone newly passed."""
    thresholds = milestone_thresholds(verified, letter.goal)
    seen = _recorded_milestones.get(letter.pk, set())
    if not thresholds or seen.issuperset(thresholds):
        return
    check_milestones(letter_id=letter.pk)

    def remember(letter_id=letter.pk, thresholds=thresholds):
        _recorded_milestones.setdefault(letter_id, set()).update(thresholds)

    # Only once committed: a rolled-back transaction recorded nothing.
    transaction.on_commit(remember)


def check_milestones(*, letter_id: int) -> list[int]:
    """Record the milestones the letter's count has newly passed and mail its organisers, once
    per milestone (the unique constraint decides, even between concurrent verifications).
    Runs in the caller's transaction, after the tally moved."""
    row = Tally.objects.filter(letter_id=letter_id).values_list("verified", "letter__goal").first()
    if row is None:
        return []
    thresholds = milestone_thresholds(*row)
    if not thresholds:
        return []
    known = set(
        Milestone.objects.filter(letter_id=letter_id, threshold__in=thresholds).values_list(
            "threshold", flat=True
        )
    )
    reached = []
    for threshold in thresholds:
        if threshold in known:
            continue
        with transaction.atomic():
            _, created = Milestone.objects.get_or_create(letter_id=letter_id, threshold=threshold)
        if created:
            reached.append(threshold)
    if reached:
        letter = Letter.objects.get(pk=letter_id)
        User = get_user_model()
        for user in User.objects.filter(organising__letter_id=letter_id, is_active=True):
            emails.milestone(letter, reached=reached, to=user.email)
    return reached
