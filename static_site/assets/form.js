// Forms: the username and password fields both portals have, field errors tied to their
// fields, alerts and notices for a whole step, announcements for screen readers. The API's
// errors are shown in its own words (in the language asked for) with the support address as
// a link; where it said nothing, ours, with the support contact.

import { formatTime, nodes, render, t } from "./i18n.js";

let supportEmail = "";
export const setSupportEmail = (email) => { supportEmail = email || ""; };

// As the API has it (SPEC 8 v2): trimmed, case-insensitive, 1–64 ASCII letters, digits,
// . _ -, a letter or digit first. A name typed with å, ä or ö is told how it is written.
export const USERNAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const SWEDISH_LETTERS = /[åäö]/;

/** The username typed, normalised; or the text key of what is wrong with it. */
export function readUsername(input) {
  const username = input.value.trim().toLowerCase();
  if (!username) return { problem: "error.usernameMissing" };
  if (USERNAME.test(username)) return { username };
  return { problem: SWEDISH_LETTERS.test(username) ? "error.usernameAscii" : "error.usernameFormat" };
}

/** A checkbox that shows the password fields' text while it is ticked. */
export function showPasswords(checkbox, inputs) {
  checkbox.checked = false; // not as a reload may have restored it, over hidden fields
  checkbox.addEventListener("change", () => {
    for (const input of inputs) input.type = checkbox.checked ? "text" : "password";
  });
}

const paragraph = (children, lang) => {
  const p = document.createElement("p");
  if (lang) p.lang = lang;
  p.append(...children);
  return p;
};

function withSupportLink(text) {
  if (!supportEmail || !text.includes(supportEmail)) return [text];
  const link = document.createElement("a");
  link.href = `mailto:${supportEmail}`;
  link.textContent = supportEmail;
  const at = text.indexOf(supportEmail);
  return [text.slice(0, at), link, text.slice(at + supportEmail.length)];
}

/** What to show for an ApiError, as paragraphs. */
export function errorParagraphs(error) {
  const shown = error.apiMessage
    ? [paragraph(withSupportLink(error.apiMessage), error.lang)]
    : [paragraph(nodes(error.code === "network" ? "error.network" : "error.unexpected")),
       paragraph(nodes(supportEmail ? "site.supportText" : "site.supportUnknown"))];
  const seconds = error.fields?.retry_after;
  if (seconds) {
    shown.push(paragraph([seconds <= 90 ? t("error.retryInSeconds", { seconds })
      : t("error.retryAt", { time: formatTime(new Date(Date.now() + seconds * 1000)) })]));
  }
  return shown;
}

/** Fill a step's alert box (role="alert"), with buttons under the text if any. */
export function showAlert(box, content, { actions = [] } = {}) {
  const row = document.createElement("div");
  row.className = "actions";
  row.append(...actions);
  box.replaceChildren(...content, ...(actions.length ? [row] : []));
}

export const showError = (box, error, options) => showAlert(box, errorParagraphs(error), options);

export function actionButton(key, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  render(button, key);
  button.addEventListener("click", onClick);
  return button;
}

/** A visible status message (role="status"), e.g. "we have sent a new code". */
export function showNotice(box, key, params) {
  const p = document.createElement("p");
  render(p, key, params);
  box.replaceChildren(p);
}

function describedBy(input, id, present) {
  const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== id);
  if (present) ids.push(id);
  if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
  else input.removeAttribute("aria-describedby");
}

/** An error under the field's label: a text key (with params) or an ApiError. */
export function setFieldError(input, problem, params = {}) {
  const box = document.getElementById(`${input.id}-error`);
  if (typeof problem === "string") {
    box.removeAttribute("lang");
    render(box, problem, params);
  } else {
    delete box.dataset.t; // the API's words do not change with the page's language
    box.lang = problem.lang;
    box.replaceChildren(...errorParagraphs(problem).flatMap((p) => [...p.childNodes, " "]));
  }
  box.hidden = false;
  input.setAttribute("aria-invalid", "true");
  describedBy(input, box.id, true);
}

/** Clear every field error, alert and notice of a step. */
export function clearMessages(section) {
  for (const input of section.querySelectorAll("input[id]")) {
    const box = document.getElementById(`${input.id}-error`);
    input.removeAttribute("aria-invalid");
    if (!box) continue;
    box.hidden = true;
    box.replaceChildren();
    delete box.dataset.t;
    describedBy(input, box.id, false);
  }
  for (const box of section.querySelectorAll("[data-alert], [data-notice]")) box.replaceChildren();
}

let announceTimer;

/** Say something to screen readers only, through the page's polite live region. */
export function announce(text) {
  const region = document.getElementById("announcer");
  clearTimeout(announceTimer);
  region.textContent = "";
  // A short pause, so that the same words said twice are heard twice.
  announceTimer = setTimeout(() => { region.textContent = text; }, 100);
}

const running = new Set();

/** Run `task` unless one is running for `key` already: a double tap sends one request. */
export async function once(key, task) {
  if (running.has(key)) return;
  running.add(key);
  try {
    await task();
  } finally {
    running.delete(key);
  }
}
