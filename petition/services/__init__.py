"""Writes with side effects. Each runs in one transaction; mails are queued on commit.

One module a concern; this package re-exports what the views, the API, the tasks, the
management commands and the tests call, so `services.sign(...)` works as it always did:

    signing           sign (signed out), resend, verify, verify_by_link
    accounts_signing  sign_as_user (signed in), switch_level, delete_account
    signer            withdraw, change_level, request_manage_link, disown_pending, purge
    employees         employer verification lapsing, and proven again
    counting          the counts, the public log and the cached pages a signature moves
    milestones        the goal and powers of ten a count passes
    letters           create, edit, settings, publish, close, reopen, deadlines
    moderation        hide and restore signatures
    organisers        invitations and roles
    updates           updates to signers: batches, pause, resume, unsubscribe
    cosigning         organisations co-signing, and the organisers' digest
    audit             the audit events and the record of exports
"""

from .accounts_signing import (
    ALREADY,
    MAILED,
    SIGNED,
    AccountSigning,
    delete_account,
    has_verified_email,
    sign_as_user,
    switch_level,
)
from .audit import record_export
from .cosigning import (
    CosigningClosed,
    CosignRefused,
    NotOrganisationAdmin,
    approve_cosign,
    cosign,
    pin_cosign,
    reject_cosign,
    send_cosign_digest,
    send_due_cosign_digests,
    withdraw_cosign,
)
from .counting import ensure_tally
from .employees import (
    expire_employee_verifications,
    months_before,
    request_reverification,
    reverify_employee,
)
from .letters import (
    RESERVED_SLUGS,
    WorkspaceError,
    change_settings,
    close,
    close_letters_past_deadline,
    create_letter,
    edit_letter,
    publish,
    reopen,
)
from .milestones import check_milestones, milestone_thresholds
from .moderation import hide_signature, restore_signature
from .organisers import (
    InviteRevoked,
    accept_invite,
    invite_organiser,
    remove_organiser,
    revoke_organiser_invite,
    set_organiser_role,
)
from .signer import (
    WITHDRAWAL_ERASES,
    change_level,
    disown_pending,
    purge_pending_signatures,
    request_manage_link,
    withdraw,
)
from .signing import SigningClosed, resend, sign, verify, verify_by_link
from .updates import (
    UPDATE_BATCH_SIZE,
    deliver_update_and_continue,
    deliver_update_batch,
    pause_update,
    resume_stalled_updates,
    resume_update,
    send_update,
    unsubscribe,
    update_recipients,
)

__all__ = [
    "ALREADY",
    "MAILED",
    "RESERVED_SLUGS",
    "SIGNED",
    "UPDATE_BATCH_SIZE",
    "WITHDRAWAL_ERASES",
    "AccountSigning",
    "CosignRefused",
    "CosigningClosed",
    "InviteRevoked",
    "NotOrganisationAdmin",
    "SigningClosed",
    "WorkspaceError",
    "accept_invite",
    "approve_cosign",
    "change_level",
    "change_settings",
    "check_milestones",
    "close",
    "close_letters_past_deadline",
    "cosign",
    "create_letter",
    "delete_account",
    "deliver_update_and_continue",
    "deliver_update_batch",
    "disown_pending",
    "edit_letter",
    "ensure_tally",
    "expire_employee_verifications",
    "has_verified_email",
    "hide_signature",
    "invite_organiser",
    "milestone_thresholds",
    "months_before",
    "pause_update",
    "pin_cosign",
    "publish",
    "purge_pending_signatures",
    "record_export",
    "reject_cosign",
    "remove_organiser",
    "reopen",
    "request_manage_link",
    "request_reverification",
    "resend",
    "restore_signature",
    "resume_stalled_updates",
    "resume_update",
    "reverify_employee",
    "revoke_organiser_invite",
    "send_cosign_digest",
    "send_due_cosign_digests",
    "send_update",
    "set_organiser_role",
    "sign",
    "sign_as_user",
    "switch_level",
    "unsubscribe",
    "update_recipients",
    "verify",
    "verify_by_link",
    "withdraw",
    "withdraw_cosign",
]
