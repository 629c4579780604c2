"""A letter's Markdown as HTML, cleaned down to the tags and attributes its text may hold."""

import functools

import markdown
import nh3

# What a letter's rendered text may hold; the versions page's word diff cleans with the same.
MARKDOWN_TAGS = frozenset(
    {"a", "abbr", "blockquote", "br", "code", "em", "h2", "h3", "h4", "hr", "li", "ol", "p"}
    | {"pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul", "del"}
)
MARKDOWN_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
MARKDOWN_URL_SCHEMES = frozenset({"http", "https", "mailto"})
MARKDOWN_LINK_REL = "nofollow noopener noreferrer"


@functools.lru_cache(maxsize=256)
def render_markdown(text: str) -> str:
    """Markdown to HTML with only safe tags and attributes left (nh3 / ammonia)."""
    html = markdown.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=set(MARKDOWN_TAGS),
        attributes=MARKDOWN_ATTRIBUTES,
        url_schemes=set(MARKDOWN_URL_SCHEMES),
        link_rel=MARKDOWN_LINK_REL,
    )
