"""The phases of `make bench`, in the order they run.

A phase is one function in the module of its group, decorated with @phase (from
benchmarks/registry.py): it takes the Bench and returns {figure key: value}. Adding one is
writing it and listing it here where it should run. The floors run first (other figures are
divided by them), and scaling late: it replaces the gunicorn the others use.
"""

from benchmarks.phases import (
    costs,
    delivery,
    deployments,
    export,
    floors,
    mail,
    pages,
    public_log,
    signing,
)

PHASES = [
    floors.floor_constant,
    floors.floor_insert,
    floors.floor_sign,
    pages.letter_page,
    pages.versions_page,
    pages.tally,
    export.export,
    mail.mail,
    mail.mail_150,
    signing.sign_steady,
    signing.sign,
    signing.verify,
    public_log.log_proofs,
    public_log.log_checkpoint,
    costs.costs,
    deployments.embedded_default,
    deployments.scaling,
    delivery.delivery_pdf,
]
