"""The petition app's forms, one module per audience: signers (signing), organisers
(organiser), co-signing organisations (cosign), translators (translations) and deliveries."""
