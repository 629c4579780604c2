"""The versions page's word diff of the rendered text: changed words marked inside the letter's
own structure, a legend, the line view as an option, no markup smuggled through, computed once."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from petition import services
from petition.views import versions

pytestmark = pytest.mark.django_db


class Tags(HTMLParser):
    """Every element a browser would build from the diff, with its attributes."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def edited(make_letter, organiser, old: str, new: str):
    letter = make_letter(body=old)
    services.edit_letter(
        letter_id=letter.pk, actor=organiser, title=letter.title, addressee="A", body=new
    )
    return letter


def page(client, letter, **query) -> str:
    response = client.get(reverse("letter_versions", args=[letter.slug]), query)
    assert response.status_code == 200
    return response.content.decode()


def test_a_changed_list_item_shows_only_the_changed_words_inside_the_list(
    client, make_letter, organiser
):
    letter = edited(
        make_letter,
        organiser,
        "We ask:\n\n- fair pay for all\n- a safe workplace\n",
        "We ask:\n\n- fair wages for all\n- a safe workplace\n",
    )
    html = page(client, letter)
    diff = html[html.index('class="worddiff') :]
    diff = diff[: diff.index("</div>")]
    item = diff[diff.index("<li>") : diff.index("</li>")]
    assert "fair" in item and "for all" in item
    assert 'fair <del class="wd"><span class="visually-hidden">removed: </span>pay</del>' in item
    assert '<ins class="wd"><span class="visually-hidden">added: </span>wages</ins> for' in item
    # Unchanged words and the other item are not marked.
    assert "<li>a safe workplace</li>" in diff
    assert "fair</del>" not in item and "fair</ins>" not in item
    # The marks sit inside the list, not around it.
    assert diff.index("<ul>") < diff.index("wages</ins>") < diff.index("</ul>")


def test_the_legend_explains_the_marks(client, make_letter, organiser):
    html = page(client, edited(make_letter, organiser, "one two", "one three"))
    assert 'class="diff-legend"' in html
    assert "<del>removed words</del>" in html and "<ins>added words</ins>" in html
    assert 'class="visually-hidden">removed: </span>' in html
    assert 'class="visually-hidden">added: </span>' in html


def test_the_line_view_is_an_option(client, make_letter, organiser):
    letter = edited(
        make_letter, organiser, "first line\n\nsecond line", "first line\n\nsecond LINE"
    )
    words = page(client, letter)
    assert "<del>- second line</del>" not in words
    assert "?view=lines" in words
    lines = page(client, letter, view="lines")
    assert "<del>- second line</del>" in lines and "<ins>+ second LINE</ins>" in lines
    assert 'class="worddiff' not in lines
    assert 'href="?view=words"' in lines


@pytest.mark.parametrize(
    "old,new",
    [
        ("safe text", "safe &lt;script&gt;alert(1)&lt;/script&gt; text"),
        ("&lt;script&gt;alert(1)&lt;/script&gt; gone", "gone"),
        ("`<img src=x onerror=alert(1)>` gone", "gone"),
        ('[x](https://e.org "a&quot;><script>alert(1)</script>") gone', "[x](https://e.org) gone"),
        ("plain", '[x](https://e.org "t><img src=x onerror=alert(1)>") plain and more'),
    ],
)
def test_escaped_markup_in_a_version_never_becomes_live_in_the_diff(
    client, make_letter, organiser, old, new
):
    html = page(client, edited(make_letter, organiser, old, new))
    diff = html[html.index('class="worddiff') :]
    diff = diff[: diff.index("</div>")]
    tags = Tags()
    tags.feed(diff)
    tags.close()
    assert not {"script", "img"} & {tag for tag, _ in tags.found}
    assert not [name for _, attrs in tags.found for name, _ in attrs if name.startswith("on")]


def test_each_pair_is_word_diffed_once(client, make_letter, organiser, monkeypatch):
    letter = edited(make_letter, organiser, "one two", "one three")
    page(client, letter)
    calls = []
    monkeypatch.setattr(versions, "_compute_word_diff", lambda *a: calls.append(a) or "")
    page(client, letter)
    assert calls == []
