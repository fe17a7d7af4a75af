"""The site as it is served (infra/site_build.py): each page's Swedish text written into its
HTML from the one source, texts/sv.js, with the stage's organisation and support channels, so
that a page reads whole without JavaScript (SPEC 2 v2). tests/browser compares these pages
with what the scripts draw."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser

import pytest

from chalicelib.domain.organisation import parse_channels
from chalicelib.messages import TEXTS
from chalicelib.settings import Settings
from infra.site_build import SITE_ROOT, SiteBuildError, build_site, load_texts, render_page, without_comments

PAGES = ("index.html", "404.html", "pwreg/index.html", "pwreset/index.html",
         "tillganglighet/index.html")


class _Text(HTMLParser):
    """The text of a page as a reader sees it, and the elements marked `data-t`."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.keys, self.empty, self._open = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-t" in attrs:
            self.keys.append(attrs["data-t"])
        if tag not in ("meta", "link", "img", "input", "br"):
            self._open.append((tag, attrs, len(self.text)))

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            _, attrs, start = self._open.pop()
            if "data-t" in attrs and not "".join(self.text[start:]).strip():
                self.empty.append(attrs["data-t"])

    def handle_data(self, data):
        self.text.append(data)


def read(html: str) -> _Text:
    parsed = _Text()
    parsed.feed(html)
    return parsed


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_site(Settings(), tmp_path_factory.mktemp("site") / "site")


def test_the_source_pages_hold_no_text_of_their_own_so_no_text_is_written_twice():
    for name in PAGES:
        source = (SITE_ROOT / name).read_text(encoding="utf-8")
        assert not "".join(read(source).text).strip(), name
        assert 'name="description" content=' not in source


def test_every_page_is_built_with_every_text_its_elements_name_from_sv_js(built):
    sv = load_texts("sv")
    for name in PAGES:
        page = read((built / name).read_text(encoding="utf-8"))
        assert page.keys and set(page.keys) <= set(sv), name
        assert not page.empty, (name, page.empty)  # every data-t element has its text
        text = " ".join("".join(page.text).split())
        assert not re.search(r"\{\w+\}", text), name  # every {placeholder} filled in
        assert "Örebro kommun Lösenordsportalen" in text, name  # the header names who runs it
        assert "Behöver du hjälp? Kontakta support: vardochstod@orebro.se, 2000 (internt nummer, " \
               "knappval 3 och 1) eller ett meddelande i Treserva" in text, name
    landing = (built / "index.html").read_text(encoding="utf-8")
    assert "<title data-t=\"landing.title\">Lösenordsportalen</title>" in landing
    assert re.search(r'<meta name="description" data-t-content="landing.description" content="[^"]{50,}"',
                     landing)


def test_a_flow_shows_its_first_step_without_javascript_and_says_it_needs_javascript(built):
    for name, heading in (("pwreg/index.html", "Logga in med kontots lösenord"),
                          ("pwreset/index.html", "Vilket konto gäller det?")):
        page = (built / name).read_text(encoding="utf-8")
        first = re.search(r'<section data-step="\w+">(.*?)</section>', page, re.S).group(1)
        assert "Steg 1 av 4" in first and heading in first
        assert re.search(r"<noscript>.*Den här sidan behöver JavaScript", page, re.S)
        # the forms are disabled until the script enables them: nothing is submitted without it
        assert page.count("<form ") == page.count("<fieldset class=\"form-fields\" data-needs-script disabled>")


def test_the_statement_names_the_organisation_its_support_and_the_day_of_the_last_check(
        tmp_path):
    logo = tmp_path / "exempelby.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>', encoding="utf-8")
    settings = replace(Settings(), organisation_name="Exempelby kommun",
                       organisation_logo=str(logo), statement_checked_on=date(2027, 3, 4),
                       support_channels=parse_channels(
                           '[{"phone": "019-123 45 67", "sv": "från privat telefon", '
                           '"en": "from a private phone"}, {"email": "hjalp@exempelby.se"}]'))
    site = build_site(settings, tmp_path / "site")
    statement = (site / "tillganglighet" / "index.html").read_text(encoding="utf-8")
    text = " ".join("".join(read(statement).text).split())
    assert "Exempelby kommun står bakom den här webbplatsen" in text
    assert "Exempelby kommun har åtagit sig" in text
    assert "Senaste bedömningen gjordes den 4 mars 2027." in text
    assert '<li><a class="nowrap" href="tel:0191234567">019-123 45 67</a> (från privat telefon)</li>' in statement
    assert '<li><a href="mailto:hjalp@exempelby.se">hjalp@exempelby.se</a></li>' in statement
    assert (site / "assets" / "logo.svg").read_bytes() == logo.read_bytes()
    for name in PAGES:
        assert '<img src="/assets/logo.svg" class="logo"' in (site / name).read_text(encoding="utf-8")


def test_without_a_logo_the_header_has_none_and_a_missing_logo_file_is_refused(built, tmp_path):
    assert "<img" not in (built / "index.html").read_text(encoding="utf-8")
    with pytest.raises(SiteBuildError, match="no file"):
        build_site(replace(Settings(), organisation_logo="no/such/logo.svg"), tmp_path / "site")


def test_a_phone_number_in_a_text_is_kept_on_one_line(built):
    page = (built / "pwreg" / "index.html").read_text(encoding="utf-8")
    assert 'Skriv till exempel <span class="nowrap">070-123 45 67</span>.' in page


def test_a_page_with_text_of_its_own_or_a_key_without_text_is_refused():
    sv = load_texts("sv")
    config_settings = Settings()
    from chalicelib.api.contract import site_config
    config = site_config(config_settings)
    with pytest.raises(SiteBuildError, match="text of its own"):
        render_page('<p data-t="site.home">Hem</p>', sv, config)
    with pytest.raises(SiteBuildError, match="no text for"):
        render_page('<p data-t="site.nothing"></p>', sv, config)


def test_both_languages_have_the_same_keys_and_parse():
    assert set(load_texts("sv")) == set(load_texts("en"))


def test_the_apis_messages_quote_as_the_pages_do():
    """One style: ”…” in Swedish, “…” in English, as texts/sv.js and en.js; never "…"."""
    for key, said in TEXTS.items():
        assert '"' not in said["sv"] and '"' not in said["en"], key
        assert "“" not in said["sv"], key
        assert said["en"].count("“") == said["en"].count("”"), key


def test_the_built_scripts_and_style_leave_out_their_comment_lines_and_nothing_else(built):
    source = "// why\nconst a = 1; // kept: after code\n/** a block\n *  of two lines */\nconst re = /^\\/\\//;\n" \
             "  /* one line */\n.x { color: red; }\n"
    assert without_comments(source) == "const a = 1; // kept: after code\nconst re = /^\\/\\//;\n.x { color: red; }\n"
    for name in ("assets/pwreset.js", "assets/form.js", "assets/site.css"):
        served = (built / name).read_text(encoding="utf-8")
        written = (SITE_ROOT / name).read_text(encoding="utf-8")
        assert served == without_comments(written) and len(served) < len(written), name
        assert not re.search(r"(?m)^\s*(//|/\*)", served), name
