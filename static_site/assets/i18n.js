// The pages' language, and how a text becomes DOM. Swedish by default; a choice of English is
// remembered. Texts are in texts/<lang>.js (only the chosen one is loaded); {name} is filled
// in as text, never markup, and [label](/path) becomes a link. An element drawn by render()
// keeps its key and params, so a change of language redraws every text on the page.

const STORAGE_KEY = "pwportal.lang";
const LOCALES = { sv: "sv-SE", en: "en-GB" };
const LINK = /\[([^\]]+)\]\(([^)\s]+)\)/g;
const SAFE_HREF = /^(\/(?!\/)|https:\/\/|mailto:|tel:)/;
// A Swedish phone number as the texts write it (070-123 45 67, 019-21 10 00, 070-*** ** 67):
// kept on one line. infra/site_build.py has the same pattern.
const PHONE_NUMBER = /(?:\+46|0)\d{1,3}-[\d*]{2,3}(?: [\d*]{2,3})+/g;

let current = "sv";
let texts = {};
let shared = {};
let pageTexts = null;

/** A page with texts of its own besides these (the support console's): `load(lang)` imports
 *  its module, from the page's folder, with every change of language. */
export function usePageTexts(load) {
  pageTexts = load;
}

export const locale = () => LOCALES[current];
export const otherLanguage = () => (current === "sv" ? "en" : "sv");

export function rememberedLanguage() {
  try {
    return localStorage.getItem(STORAGE_KEY) === "en" ? "en" : "sv";
  } catch {
    return "sv"; // storage switched off: as on a first visit
  }
}

export async function useLanguage(lang, { remember = false } = {}) {
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, lang); // at once, so a link followed right away keeps it
    } catch {
      // then the choice lasts for this page only
    }
  }
  const [common, own] = await Promise.all([import(`./texts/${lang}.js`), pageTexts?.(lang)]);
  texts = { ...common.default, ...own?.default };
  current = lang;
  document.documentElement.lang = lang;
}

export const language = () => current;

/** Values every text may use, e.g. {support} and {codeLength} from /api/config. */
export function setSharedParams(params) {
  shared = { ...shared, ...params };
}

const fill = (template, values) =>
  template.replace(/\{(\w+)\}/g, (whole, name) => (values[name] ?? whole).toString());

export const hasText = (key) => Object.hasOwn(texts, key);

/** Whether every {name} of the key's text has a value in `params` or the shared ones. */
export const canFill = (key, params = {}) => hasText(key)
  && [...texts[key].matchAll(/\{(\w+)\}/g)].every(([, name]) => (params[name] ?? shared[name]) !== undefined);

/** A text as a plain string (document.title, announcements). */
export const t = (key, params = {}) => fill((texts[key] ?? key).replace(LINK, "$1"), { ...shared, ...params });

/** Text as nodes, each phone number in a span that keeps it on one line. */
export function textNodes(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(PHONE_NUMBER)) {
    if (match.index > last) out.push(document.createTextNode(text.slice(last, match.index)));
    const span = document.createElement("span");
    span.className = "nowrap";
    span.textContent = match[0];
    out.push(span);
    last = match.index + match[0].length;
  }
  if (last < text.length || !out.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** A text as DOM nodes (infra/site_build.py writes the same into the Swedish pages). */
export function nodes(key, params = {}) {
  const template = texts[key] ?? key;
  const values = { ...shared, ...params };
  const out = [];
  let last = 0;
  const text = (end) => out.push(...textNodes(fill(template.slice(last, end), values)));
  for (const match of template.matchAll(LINK)) {
    text(match.index);
    const link = document.createElement("a");
    const href = fill(match[2], values);
    link.href = SAFE_HREF.test(href) ? href : "#";
    link.append(...textNodes(fill(match[1], values)));
    out.push(link);
    last = match.index + match[0].length;
  }
  text(template.length);
  return out;
}

export function render(element, key, params = {}) {
  element.dataset.t = key;
  if (Object.keys(params).length) element.dataset.tParams = JSON.stringify(params);
  else delete element.dataset.tParams;
  element.replaceChildren(...nodes(key, params));
}

/** Draw every `data-t` element in the current language. */
export function applyTexts() {
  for (const element of document.querySelectorAll("[data-t]")) {
    const params = JSON.parse(element.dataset.tParams || "{}");
    if (element.tagName === "TITLE") element.textContent = t(element.dataset.t, params);
    else element.replaceChildren(...nodes(element.dataset.t, params));
  }
  for (const meta of document.querySelectorAll("meta[data-t-content]")) meta.content = t(meta.dataset.tContent);
}

export const formatDate = (date) =>
  new Intl.DateTimeFormat(locale(), { day: "numeric", month: "long", year: "numeric" }).format(date);
// Times of day in the organisation's time zone, as the SMS and the CLI say them (SPEC 9 v3),
// whatever zone the browser is set to.
const timeZone = "Europe/Stockholm";
export const formatTime = (date) =>
  new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", timeZone }).format(date);
