// What every page does first: pick the language, load GET /api/config (policy, code, support),
// draw the texts, the support contact and the language switch. The last config is kept in
// localStorage, so that a page that cannot reach the API can still name the support contact.

import { call } from "./api.js";
import { setSupportEmail } from "./form.js";
import { applyTexts, otherLanguage, render, rememberedLanguage, setSharedParams, useLanguage } from "./i18n.js";

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

function textParams({ policy, code, support }) {
  return {
    support: support.text || [support.phone, support.email].filter(Boolean).join(", "),
    supportPhone: support.phone,
    supportEmail: support.email,
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
  const support = config?.support;
  if (config) setSharedParams(textParams(config));
  setSupportEmail(support?.email);
  const line = document.getElementById("support");
  render(line, support?.phone && support?.email ? "site.support" : support ? "site.supportText" : "site.supportUnknown");
  applyTexts();

  const button = document.getElementById("language");
  const label = () => {
    render(button, "site.otherLanguage");
    button.lang = otherLanguage();
  };
  label();
  button.addEventListener("click", async () => {
    await useLanguage(otherLanguage(), { remember: true });
    applyTexts();
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
