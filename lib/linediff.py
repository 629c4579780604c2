"""A line diff with a bounded cost, for showing what changed between two versions of a letter.

difflib's matcher, without its junk heuristic, takes time that grows with the cube of the
number of alike lines: two 2,000-character texts of repeated short lines took 8 s of CPU, and
the largest letter allowed far longer. Here the common head and tail are cut first (an edit
usually touches a few paragraphs), and the matcher runs only on a middle of at most
MATCHED_LINES lines a side; a longer middle is shown whole, as removed then added, which is
still exactly what changed, if coarser.
"""

import difflib

# Lines a side the matcher may compare: measured at about 0.1 s of CPU in the worst case (all
# lines alike), against 1 s for the whole versions page.
MATCHED_LINES = 300
CONTEXT = 2
# Lines of a diff shown at most; the rest is summed up in one line.
SHOWN_LINES = 400


def bounded_opcodes(old: list, new: list, limit: int) -> list[tuple[str, int, int, int, int]]:
    """difflib's opcodes for two sequences, the matcher run only on the middle left once the
    common head and tail are cut, and only if it is at most `limit` items a side."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    old_mid, new_mid = old[head : len(old) - tail], new[head : len(new) - tail]
    codes = []
    if head:
        codes.append(("equal", 0, head, 0, head))
    if len(old_mid) <= limit and len(new_mid) <= limit:
        matcher = difflib.SequenceMatcher(None, old_mid, new_mid, autojunk=False)
        codes += [
            (tag, i1 + head, i2 + head, j1 + head, j2 + head)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        ]
    elif old_mid or new_mid:
        codes.append(("replace", head, head + len(old_mid), head, head + len(new_mid)))
    if tail:
        codes.append(("equal", len(old) - tail, len(old), len(new) - tail, len(new)))
    return codes


def _grouped(codes: list[tuple[str, int, int, int, int]]):
    """difflib's get_grouped_opcodes, on opcodes computed here."""
    matcher = difflib.SequenceMatcher(None, "", "")
    matcher.opcodes = codes or [("equal", 0, 1, 0, 1)]
    return matcher.get_grouped_opcodes(CONTEXT)


def changes(old: list[str], new: list[str]) -> list[tuple[str, str]]:
    """What changed, line by line: ("add"|"del"|"same"|"gap", line), with unchanged stretches
    cut to two lines of context around each change."""
    lines = []
    for group in _grouped(bounded_opcodes(old, new, MATCHED_LINES)):
        if lines:
            lines.append(("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [("same", line) for line in old[i1:i2]]
                continue
            lines += [("del", line) for line in old[i1:i2]]
            lines += [("add", line) for line in new[j1:j2]]
    if len(lines) > SHOWN_LINES:
        hidden = len(lines) - SHOWN_LINES
        lines = [*lines[:SHOWN_LINES], ("gap", f"… {hidden:,} more lines (see the full texts)")]
    return lines
