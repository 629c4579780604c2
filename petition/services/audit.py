"""The organisers' records of who did what to a letter: its audit events, and its exports."""

from petition.models import AuditEvent, ExportRecord, Letter


def audit(letter_id: int, actor, action: str, *, target: str = "", reason: str = "") -> None:
    AuditEvent.objects.create(
        letter_id=letter_id,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target=target[:200],
        reason=reason[:500],
    )


def record_export(
    *, letter: Letter, user, what: str, format: str, filters: dict, rows: int
) -> ExportRecord:
    return ExportRecord.objects.create(
        letter=letter,
        user=user if user is not None and user.is_authenticated else None,
        what=what,
        format=format,
        filters=filters,
        rows=rows,
    )
