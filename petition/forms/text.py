"""What every free-text field of the forms goes through."""


def clean_text(value: str) -> str:
    """Control characters have no place in a name or a job title; tabs and newlines become
    spaces, and runs of spaces one."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
