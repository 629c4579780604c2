"""{% lettercache name letter_id vary_on... %}...{% endlettercache %}: Django's {% cache %}, but
kept under the letter's key prefix, so that a withdrawal, a change of level or a moderator's hide
deletes it with the letter's pages (petition/pagecache.py) instead of leaving it to expire."""

from django import template

from petition import pagecache

register = template.Library()


class LetterCacheNode(template.Node):
    def __init__(self, nodelist, name: str, letter_id, vary_on: list):
        self.nodelist = nodelist
        self.name = name
        self.letter_id = letter_id
        self.vary_on = vary_on

    def render(self, context) -> str:
        letter_id = self.letter_id.resolve(context)
        vary_on = [value.resolve(context) for value in self.vary_on]
        return pagecache.fragment(
            letter_id, self.name, vary_on, lambda: self.nodelist.render(context)
        )


@register.tag
def lettercache(parser, token):
    bits = token.split_contents()
    if len(bits) < 3:
        raise template.TemplateSyntaxError(f"{bits[0]} takes a name and a letter's id")
    nodelist = parser.parse(("endlettercache",))
    parser.delete_first_token()
    return LetterCacheNode(
        nodelist,
        bits[1],
        parser.compile_filter(bits[2]),
        [parser.compile_filter(bit) for bit in bits[3:]],
    )
