"""The site as it is served: static_site/ with each page's Swedish text written into its HTML
from the one source of the texts, static_site/assets/texts/sv.js, and the stage's settings
(the organisation, its logo, the support channels, the policy's numbers), so that a page
reads whole before or without JavaScript (SPEC 2 v2).

The pages in static_site/ hold no text of their own: an element with `data-t="key"` (and
`data-t-params='{"n": 1}'`) is empty there and gets its text here, as the scripts' i18n.js
draws it (`{name}` filled in, `[label](/path)` a link, a phone number kept on one line);
`data-t-content` fills a `<meta>`'s content; `data-organisation`, `data-organisation-logo`,
`data-support-line` and `data-support-channels` take the settings'. The scripts then draw
the same texts again, in the language chosen; tests/browser compares both. A page whose
folder has texts of its own (static_site/support/texts/sv.js, the support console's) gets
those besides the shared ones, as its script loads them (i18n.js usePageTexts).

The scripts and the style sheet are served without their comments: a line that is only a
comment (`// …`, or a `/* … */` block that starts a line) is left out of the built copy, so that
the comments may say why at any length while each page stays under its weight (tests/browser).

`make run` serves a site built from the local stage's settings (infra/local_stack.py), and
`make deploy` uploads one built from the deployed stage's (infra/deploy.py).
"""
from __future__ import annotations

import html
import json
import re
import shutil
from datetime import date
from pathlib import Path

from chalicelib.api.contract import site_config
from chalicelib.domain import organisation
from chalicelib.domain.clock import month_name

ROOT = Path(__file__).resolve().parents[1]
SITE_ROOT = ROOT / "static_site"
TEXTS = SITE_ROOT / "assets" / "texts"

LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
SAFE_HREF = re.compile(r"^(/(?!/)|https://|mailto:|tel:)")
PARAM = re.compile(r"\{(\w+)\}")
# A Swedish phone number as the texts write it (070-123 45 67, 019-21 10 00, 070-*** ** 67):
# kept on one line. static_site/assets/i18n.js has the same pattern.
PHONE_NUMBER = re.compile(r"(?:\+46|0)\d{1,3}-[\d*]{2,3}(?: [\d*]{2,3})+")

_ELEMENT = re.compile(r"<(?P<tag>\w+)(?P<attrs>[^<>]*?\sdata-t=\"(?P<key>[^\"]+)\"[^<>]*)>"
                      r"(?P<inner>[^<]*)</(?P=tag)>")
_CONTENT = re.compile(r"<meta(?P<attrs>[^<>]*?)\sdata-t-content=\"(?P<key>[^\"]+)\"(?P<rest>[^<>]*)>")
_MARKED = r"<(?P<tag>\w+)(?P<attrs>[^<>]*?\s{mark}(?:=\"\")?(?:\s[^<>]*)?)>(?P<inner>[^<]*)</(?P=tag)>"
_ORGANISATION = re.compile(_MARKED.format(mark="data-organisation"))
_SUPPORT_LINE = re.compile(_MARKED.format(mark="data-support-line"))
_SUPPORT_CHANNELS = re.compile(_MARKED.format(mark="data-support-channels"))
_LOGO = re.compile(r"<img(?P<attrs>[^<>]*?\sdata-organisation-logo[^<>]*)>")


class SiteBuildError(RuntimeError):
    """The site cannot be built; the message says what is wrong."""


def load_texts(lang: str, folder: Path = TEXTS) -> dict[str, str]:
    """static_site/assets/texts/<lang>.js (or a page's own, in `folder`): `export default
    { "key": "text", ... };`, whose object is JSON but for comments and a trailing comma."""
    source = (folder / f"{lang}.js").read_text(encoding="utf-8")
    body = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))
    found = re.fullmatch(r"\s*export default (\{.*\});\s*", body, re.DOTALL)
    if not found:
        raise SiteBuildError(f"texts/{lang}.js must be `export default {{ ... }};`")
    try:
        return json.loads(re.sub(r",(\s*)\}$", r"\1}", found.group(1)))
    except json.JSONDecodeError as error:
        raise SiteBuildError(f"texts/{lang}.js, line {error.lineno}: {error.msg}") from None


def long_date(day: date, lang: str) -> str:
    """As Intl.DateTimeFormat writes it in sv-SE and en-GB: `25 november 2026`."""
    return f"{day.day} {month_name(day.month, lang)} {day.year}"


def text_params(config: dict, lang: str = "sv") -> dict:
    """The values every text may use; static_site/assets/page.js makes the same from the same
    GET /api/config."""
    policy, code = config["policy"], config["code"]
    channels = [organisation.SupportChannel(c["kind"], c.get("value", ""), c.get("text", {}))
                for c in config["support"]["channels"]]
    return {
        "support": organisation.support_line(tuple(channels), lang),
        "organisation": config["organisation"]["name"],
        "checkedOn": long_date(date.fromisoformat(config["statement"]["checked_on"]), lang),
        "codeLength": code["length"],
        "codeMinutes": round(code["lifetime_seconds"] / 60),
        "minLength": policy["min_length"],
        "maxLength": policy["max_length"],
        "minClasses": policy["min_classes"],
        "history": policy["history"],
        "maxAgeDays": policy["max_age_days"],
    }


def _fill(template: str, values: dict) -> str:
    return PARAM.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def _text_html(text: str) -> str:
    """Text as HTML, each phone number in a span that keeps it on one line."""
    out, last = [], 0
    for match in PHONE_NUMBER.finditer(text):
        out.append(html.escape(text[last:match.start()], quote=False))
        out.append(f'<span class="nowrap">{html.escape(match.group(0), quote=False)}</span>')
        last = match.end()
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def render(template: str, values: dict) -> str:
    """A text as HTML, as i18n.js's nodes() makes it: params as text, links as <a>."""
    out, last = [], 0
    for match in LINK.finditer(template):
        out.append(_text_html(_fill(template[last:match.start()], values)))
        href = _fill(match.group(2), values)
        href = href if SAFE_HREF.match(href) else "#"
        out.append(f'<a href="{html.escape(href)}">{_text_html(_fill(match.group(1), values))}</a>')
        last = match.end()
    out.append(_text_html(_fill(template[last:], values)))
    return "".join(out)


def plain(template: str, values: dict) -> str:
    """A text as a plain string (a title, an attribute), as i18n.js's t() makes it."""
    return _fill(LINK.sub(r"\1", template), values)


def channel_html(channel: dict, lang: str) -> str:
    """One support channel as page.js draws it: a number or an address as a link, its note
    after it in brackets; a text as it is."""
    note = channel.get("text", {}).get(lang, "")
    if channel["kind"] == "text":
        return html.escape(note, quote=False)
    support = organisation.SupportChannel(channel["kind"], channel["value"])
    css = ' class="nowrap"' if channel["kind"] == "phone" else ""
    link = (f'<a{css} href="{html.escape(support.href)}">'
            f'{html.escape(channel["value"], quote=False)}</a>')
    return f"{link} ({html.escape(note, quote=False)})" if note else link


def support_line_html(config: dict, texts: dict, lang: str) -> str:
    """`Behöver du hjälp? Kontakta support: a, b eller c.` with the channels linked."""
    said = [channel_html(channel, lang) for channel in config["support"]["channels"]]
    listed = said[0] if len(said) < 2 else f"{', '.join(said[:-1])} {html.escape(texts['site.or'])} {said[-1]}"
    return f'<span data-t="site.supportLead">{render(texts["site.supportLead"], {})}</span> {listed}.'


def render_page(page: str, texts: dict, config: dict, lang: str = "sv") -> str:
    """One page of static_site/ with its texts and the settings written in."""
    values = text_params(config, lang)
    missing = sorted({m.group("key") for m in _ELEMENT.finditer(page)} - set(texts))
    if missing:
        raise SiteBuildError(f"no text for {missing}")

    def element(match) -> str:
        key, attrs, tag = match.group("key"), match.group("attrs"), match.group("tag")
        if match.group("inner").strip():
            raise SiteBuildError(f"<{tag} data-t=\"{key}\"> has text of its own: "
                                 "the texts are in texts/sv.js only")
        params = re.search(r"\sdata-t-params='([^']*)'", attrs)
        own = json.loads(html.unescape(params.group(1))) if params else {}
        template = texts[key]
        inner = (html.escape(plain(template, {**values, **own}), quote=False) if tag == "title"
                 else render(template, {**values, **own}))
        return f"<{tag}{attrs}>{inner}</{tag}>"

    def content(match) -> str:
        said = html.escape(plain(texts[match.group("key")], values))
        return f'<meta{match.group("attrs")} data-t-content="{match.group("key")}" content="{said}"{match.group("rest")}>'

    def filled(inner_html: str):
        return lambda m: f"<{m.group('tag')}{m.group('attrs')}>{inner_html}</{m.group('tag')}>"

    logo = config["organisation"]["logo"]
    page = _ELEMENT.sub(element, page)
    page = _CONTENT.sub(content, page)
    page = _ORGANISATION.sub(filled(html.escape(config["organisation"]["name"], quote=False)), page)
    page = _SUPPORT_LINE.sub(filled(support_line_html(config, texts, lang)), page)
    page = _SUPPORT_CHANNELS.sub(filled("".join(
        f"<li>{channel_html(channel, lang)}</li>" for channel in config["support"]["channels"])), page)
    return _LOGO.sub(lambda m: f'<img src="{html.escape(logo)}"{m.group("attrs")}>' if logo else "", page)


def without_comments(source: str) -> str:
    """A script's or a style sheet's text without its comment lines: each line that is only a
    `//` comment, each `/* … */` block that starts a line (to the line that ends it). A comment
    after code on a line stays: telling it from a `//` in a string or a pattern needs a parser."""
    kept, in_block = [], False
    for line in source.splitlines(keepends=True):
        stripped = line.strip()
        if in_block:
            in_block = "*/" not in stripped
        elif stripped.startswith("/*"):
            in_block = "*/" not in stripped[2:]
        elif not stripped.startswith("//"):
            kept.append(line)
    return "".join(kept)


def page_texts(page: Path, texts: dict[str, str]) -> dict[str, str]:
    """The texts of one page: the shared ones, and those of its own folder's texts/sv.js
    where it has one (the support console's, which the portals need not load)."""
    own = page.parent / "texts"
    return {**texts, **load_texts("sv", own)} if (own / "sv.js").is_file() else texts


def build_site(settings, target: Path, source: Path = SITE_ROOT) -> Path:
    """static_site/ copied to `target` (emptied first), its pages written for `settings`,
    the organisation's logo copied in; returns `target`."""
    target = Path(target)
    config = site_config(settings, "sv")
    texts = load_texts("sv")
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".*"))
    for page in sorted(target.rglob("*.html")):
        page.write_text(render_page(page.read_text(encoding="utf-8"), page_texts(page, texts),
                                    config), encoding="utf-8")
    for asset in sorted([*target.rglob("*.js"), *target.rglob("*.css")]):
        asset.write_text(without_comments(asset.read_text(encoding="utf-8")), encoding="utf-8")
    if settings.organisation_logo:
        logo = Path(settings.organisation_logo)
        logo = logo if logo.is_absolute() else ROOT / logo
        if not logo.is_file():
            raise SiteBuildError(f"PWPORTAL_ORGANISATION_LOGO: no file {logo}")
        shutil.copyfile(logo, target / config["organisation"]["logo"].lstrip("/"))
    return target


def main() -> int:
    """`python -m infra.site_build [--stage STAGE] OUT`: a stage's site, to look at."""
    import argparse

    from infra.stages import LOCAL, stage_settings
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--stage", default=LOCAL)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    print(build_site(stage_settings(args.stage), args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
