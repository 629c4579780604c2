"""A word diff of two versions' rendered HTML, with a bounded cost, for the versions page.

Both texts are cut into tokens (tags, words, runs of space) by a real HTML parser, so a `>` in
an attribute or an escaped `&lt;script&gt;` in the text stays what it is: every tag is written
back from its parsed name and attributes, every word escaped again. The new version's tags are
kept as they are, its added words wrapped in <ins class="wd">; removed words (their text only,
never their tags) go in <del class="wd"> where they stood, so the structure is the new
version's. The result goes through the sanitiser once more, the same tags as the letter plus
the two marks.

The matcher's cost is bounded like the line diff's: the common head and tail are cut, and
difflib's matcher runs only on a middle of at most MATCHED_TOKENS tokens a side; a longer
middle is shown whole, as removed then added.
"""

import html
import re
from html.parser import HTMLParser

import nh3

from lib.linediff import bounded_opcodes

from .models import MARKDOWN_ATTRIBUTES, MARKDOWN_LINK_REL, MARKDOWN_TAGS, MARKDOWN_URL_SCHEMES

# Tokens a side the matcher may compare. Its worst case is a middle of alternating tokens
# against the same tokens in two blocks ("a b a b" against "a a b b", its cost grows with the
# cube): 0.1 s of CPU at 250 tokens, 0.17 s at 300, 0.44 s at 400, 4.6 s at 1,000. A page shows
# at most three diffs, against a bound of 1 s for the whole page.
MATCHED_TOKENS = 250
MARK = "wd"
_WORDS = re.compile(r"\s+|\S+")
_VOID = {"br", "hr", "img", "input", "wbr"}


class _Tokens(HTMLParser):
    """(kind, html) pairs: kind is "tag", "word" or "space"; html is safe to write out."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        written = "".join(
            f' {name}="{html.escape(value or "", quote=True)}"' for name, value in attrs
        )
        self.tokens.append(("tag", f"<{tag}{written}>"))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag not in _VOID:
            self.tokens.append(("tag", f"</{tag}>"))

    def handle_data(self, data):
        for word in _WORDS.findall(data):
            kind = "space" if word.isspace() else "word"
            self.tokens.append((kind, word if kind == "space" else html.escape(word)))


def tokens(text_html: str) -> list[tuple[str, str]]:
    parser = _Tokens()
    parser.feed(text_html)
    parser.close()
    return parser.tokens


def _marked(mark: str, stretch: list[tuple[str, str]], keep_tags: bool) -> list[str]:
    """A stretch of tokens with each run of words between tags wrapped in `mark`; tags are
    written as they are (keep_tags) or left out, with a space between the runs."""
    out, run = [], []

    def flush():
        text = "".join(text for _, text in run)
        if text.strip():
            words = text.strip()
            before, after = text[: text.index(words)], text[text.index(words) + len(words) :]
            marked = f'<{mark} class="{MARK}">{words}</{mark}>'
            out.append(before + marked + after if keep_tags else marked + " ")
        elif keep_tags:
            out.extend(text for _, text in run)
        run.clear()

    for kind, text in stretch:
        if kind == "tag":
            flush()
            if keep_tags:
                out.append(text)
        else:
            run.append((kind, text))
    flush()
    return out


def changes(old_html: str, new_html: str) -> str:
    """The new version's HTML with the words added since the old one in <ins> and the words
    removed in <del>."""
    old, new = tokens(old_html), tokens(new_html)
    out = []
    for tag, i1, i2, j1, j2 in bounded_opcodes(old, new, MATCHED_TOKENS):
        if tag == "equal":
            out.extend(text for _, text in new[j1:j2])
            continue
        out += _marked("del", old[i1:i2], keep_tags=False)
        out += _marked("ins", new[j1:j2], keep_tags=True)
    return nh3.clean(
        "".join(out),
        tags=set(MARKDOWN_TAGS | {"ins", "del"}),
        attributes={**MARKDOWN_ATTRIBUTES, "ins": {"class"}, "del": {"class"}},
        url_schemes=set(MARKDOWN_URL_SCHEMES),
        link_rel=MARKDOWN_LINK_REL,
    )
