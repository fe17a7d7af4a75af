// What every page does first: pick the language, load GET /api/config (policy, code, support,
// organisation), draw the texts, the support contact and the language switch. The Swedish page
// is already whole in its HTML (infra/site_build.py writes it from the same texts and config),
// so this redraws the same words in Swedish, or all of them in English. The last config is
// kept in localStorage, so that a page that cannot reach the API can still name support.

import { call } from "./api.js";
import {
  applyTexts, formatDate, language, otherLanguage, render, rememberedLanguage, setSharedParams, t, useLanguage,
} from "./i18n.js";

const CONFIG_KEY = "pwportal.config";

async function loadConfig() {
  try {
    const config = await call("GET", "/config");
    try {
      localStorage.setItem(CONFIG_KEY, JSON.stringify(config));
    } catch {
      // storage switched off: nothing to fall back on next time
    }
    return config;
  } catch {
    try {
      return JSON.parse(localStorage.getItem(CONFIG_KEY)) ?? null;
    } catch {
      return null;
    }
  }
}

// A support channel as words, and as nodes: a number or an address linked, its note after it
// in brackets; a text as it is (infra/site_build.py's channel_html writes the same).
const channelNote = (channel) => channel.text?.[language()] ?? channel.text?.sv ?? "";
const channelWords = (channel) => (channel.kind === "text" ? channelNote(channel)
  : channelNote(channel) ? `${channel.value} (${channelNote(channel)})` : channel.value);

function channelNodes(channel) {
  if (channel.kind === "text") return [document.createTextNode(channelNote(channel))];
  const link = document.createElement("a");
  link.textContent = channel.value;
  if (channel.kind === "phone") {
    link.className = "nowrap";
    link.href = `tel:${channel.value.replace(/[^0-9+]/g, "")}`;
  } else {
    link.href = `mailto:${channel.value}`;
  }
  return channelNote(channel) ? [link, document.createTextNode(` (${channelNote(channel)})`)] : [link];
}

/** `a, b eller c`: the items with the words between them. */
function listed(items) {
  if (items.length < 2) return items;
  return [...items.slice(0, -1).flatMap((item, i) => (i ? [", ", item] : [item])), ` ${t("site.or")} `, items.at(-1)];
}

function drawSupport(support) {
  const channels = support?.channels ?? [];
  if (!channels.length) return;
  // The footer's line, and its copies in the errors that name support (form.js)
  for (const line of document.querySelectorAll("[data-support-line]")) {
    const lead = document.createElement("span");
    render(lead, "site.supportLead");
    const parts = listed(channels.map(channelNodes)).flat();
    line.replaceChildren(lead, " ", ...parts, ".");
  }
  for (const list of document.querySelectorAll("[data-support-channels]")) {
    list.replaceChildren(...channels.map((channel) => {
      const li = document.createElement("li");
      li.append(...channelNodes(channel));
      return li;
    }));
  }
}

function textParams({ policy, code, support, organisation, statement }) {
  const channels = support.channels ?? [];
  return {
    support: channels.length ? listed(channels.map(channelWords)).join("") : support.text,
    organisation: organisation?.name ?? "",
    checkedOn: statement?.checked_on ? formatDate(new Date(`${statement.checked_on}T12:00:00`)) : "",
    codeLength: code.length,
    codeMinutes: Math.round(code.lifetime_seconds / 60),
    minLength: policy.min_length,
    maxLength: policy.max_length,
    minClasses: policy.min_classes,
    history: policy.history,
    maxAgeDays: policy.max_age_days,
  };
}

/** The config, or null when neither the API nor an earlier visit can provide it. */
export async function startPage({ onLanguageChange } = {}) {
  await useLanguage(rememberedLanguage());
  const config = await loadConfig();
  const draw = () => {
    if (config) setSharedParams(textParams(config));
    applyTexts();
    drawSupport(config?.support);
  };
  draw();

  const button = document.getElementById("language");
  const label = () => {
    render(button, "site.otherLanguage");
    button.lang = otherLanguage();
  };
  label();
  button.addEventListener("click", async () => {
    await useLanguage(otherLanguage(), { remember: true });
    draw();
    label();
    onLanguageChange?.();
  });
  return config;
}

/** The page is drawn and its flow started (the browser tests wait for this mark). */
export function markReady() {
  document.body.dataset.ready = "true";
}

/** Without /api/config a portal cannot work: say so, with what support we know. */
export function showUnavailable() {
  const box = document.getElementById("page-alert");
  box.replaceChildren(...["error.network", "site.supportUnknown"].map((key) => {
    const p = document.createElement("p");
    render(p, key);
    return p;
  }));
  for (const section of document.querySelectorAll("[data-step]")) section.hidden = true;
}
