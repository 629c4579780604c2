"""Moderation: organisers hide a verified signature from the list and the count, or restore it."""

from django.db import transaction

from petition import tlog
from petition.models import AuditEvent, Signature

from .audit import audit
from .counting import count_and_log, logged_level, purge_pages


def _signature_for_moderation(letter_id: int, signature_id: int) -> Signature:
    return (
        Signature.objects.select_for_update(of=("self",))
        .select_related("letter", "version")
        .get(pk=signature_id, letter_id=letter_id)
    )


@transaction.atomic
def hide_signature(
    *, letter_id: int, signature_id: int, actor, reason: str, note: str = ""
) -> bool:
    """Hide a verified signature from the list and the count. False if it was already hidden
    or is not verified (pending ones neither count nor show, withdrawn ones are gone)."""
    signature = _signature_for_moderation(letter_id, signature_id)
    if signature.is_hidden or signature.status != Signature.Status.VERIFIED:
        return False
    signature.is_hidden = True
    signature.hidden_reason = reason[:200]
    signature.save(update_fields=["is_hidden", "hidden_reason"])
    count_and_log(signature, -1, "hide", reason=reason if reason in tlog.HIDE_REASONS else "other")
    purge_pages(letter_id)
    explanation = f"{reason}: {note}" if note else reason
    audit(letter_id, actor, AuditEvent.Action.HIDE, target=_target(signature), reason=explanation)
    return True


@transaction.atomic
def restore_signature(*, letter_id: int, signature_id: int, actor, note: str = "") -> bool:
    """Undo a hide. False if the signature was not hidden."""
    signature = _signature_for_moderation(letter_id, signature_id)
    if not signature.is_hidden:
        return False
    signature.is_hidden = False
    signature.hidden_reason = ""
    signature.save(update_fields=["is_hidden", "hidden_reason"])
    if signature.is_counted:
        logged = logged_level(signature)
        if logged == signature.visibility:
            count_and_log(signature, +1, "restore")
        else:  # its level changed while hidden: restoring its old ref would tie the two
            count_and_log(signature, +1, "restore", supersede_from=logged)
    audit(letter_id, actor, AuditEvent.Action.RESTORE, target=_target(signature), reason=note)
    return True


def _target(signature: Signature) -> str:
    # Never a name or an address: the audit log is shown to viewers too.
    return f"signature {str(signature.public_id)[:8]}"
