// Forms: the username and password fields both portals have, field errors tied to their
// fields, alerts and notices for a whole step, announcements for screen readers. The API's
// errors are shown in the page's words for their code (texts/*.js "api.*", the API's own
// sentences, kept equal by tests/unit/test_page_texts.py), so that they follow a change of
// language; short, with support only where the user cannot get past alone (SPEC 2 v3).

import { canFill, formatTime, hasText, render, t } from "./i18n.js";

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

// The errors a user cannot get past alone (SPEC 2 v3): only these are said with the support
// channels. A wrong code, a mistyped number or an expired code the user mends alone, and the
// footer names support on every page anyway.
const NEEDS_SUPPORT = new Set(["too_many_attempts", "too_many_requests", "service_unavailable", "internal_error",
                               "too_many_holders", "network", "unexpected"]);

/** `03:31`, the minute from which a wait of `seconds` is over (rounded up: never too early). */
const clockAfter = (seconds) => formatTime(new Date(Math.ceil((Date.now() + seconds * 1000) / 60000) * 60000));

/**
 * An ApiError as parts to show, in order: what happened (and what to do), when to try again as
 * a time of day, and support where the user cannot get past alone. A part is a text key with
 * its params (the page's words for the API's code: drawn again in the new language when the
 * user switches), or, for a code the page has no words for, the API's own sentence in its
 * language. `wrong` replaces the words of a wrong code (the app's, which has its own cause).
 */
export function errorParts(error, { wrong } = {}) {
  const fields = error.fields ?? {};
  const parts = [];
  const key = `api.${error.code}`;
  if (error.code === "invalid_code" && wrong) {
    parts.push({ key: wrong });
    if (Number.isInteger(fields.attempts_left)) parts.push({ key: "error.attemptsLeft", params: { attempts: fields.attempts_left } });
  } else if (canFill(key, fields)) {
    parts.push({ key, params: fields });
  } else if (error.apiMessage) {
    // The API adds its support sentence to every message: said below only where it helps.
    const tail = ` ${t("site.supportText", { support: fields.support ?? "" })}`;
    const said = error.apiMessage.endsWith(tail) ? error.apiMessage.slice(0, -tail.length) : error.apiMessage;
    parts.push({ text: said, lang: error.lang });
  } else {
    parts.push({ key: error.code === "network" ? "error.network" : "error.unexpected" });
  }
  const seconds = fields.retry_after;
  if (seconds && error.code !== "resend_too_soon") {
    parts.push(seconds < 60 ? { key: "error.retryInSeconds", params: { seconds } }
      : { key: "error.retryAt", params: { time: clockAfter(seconds) } });
  }
  if (NEEDS_SUPPORT.has(error.code) || !hasText(key)) parts.push({ support: true });
  return parts;
}

/** One part as an element: a key's text is drawn by render() (so it follows the language);
 *  support as the footer says it, its channels linked (page.js draws every such line again
 *  in another language). */
function partElement(tag, part) {
  const element = document.createElement(tag);
  const footer = document.getElementById("support");
  if (part.support && footer?.childNodes.length) {
    element.dataset.supportLine = "";
    element.append(...[...footer.childNodes].map((node) => node.cloneNode(true)));
  } else if (part.support) render(element, "site.supportUnknown");
  else if (part.key) render(element, part.key, part.params);
  else {
    element.textContent = part.text;
    if (part.lang) element.lang = part.lang;
  }
  return element;
}

/** What to show for an ApiError, as paragraphs. */
export const errorParagraphs = (error, options) => errorParts(error, options).map((part) => partElement("p", part));

/** Fill a step's alert box (role="alert"), with buttons under the text if any. */
export function showAlert(box, content, { actions = [] } = {}) {
  const row = document.createElement("div");
  row.className = "actions";
  row.append(...actions);
  box.replaceChildren(...content, ...(actions.length ? [row] : []));
}

export const showError = (box, error, options) => showAlert(box, errorParagraphs(error, options), options);

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

/** An error under the field's label: a text key (with params), an ApiError (`options.wrong` as
 *  for errorParts), or a list of parts ({key, params, after}: `after` a comma or full stop
 *  right after it); said in as few words as it takes. */
export function setFieldError(input, problem, params = {}) {
  const box = document.getElementById(`${input.id}-error`);
  box.removeAttribute("lang");
  if (typeof problem === "string") {
    render(box, problem, params);
  } else {
    delete box.dataset.t; // each part is drawn (and redrawn in another language) on its own
    delete box.dataset.tParams;
    const parts = Array.isArray(problem) ? problem : errorParts(problem, params);
    box.replaceChildren(...parts.flatMap((part, i) => [...(i ? [" "] : []), partElement("span", part),
                                                       ...(part.after ? [part.after] : [])]));
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
