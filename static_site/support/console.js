// The support console (SPEC 14): signed out, or signed in as an agent: find an account by its
// exact username, see its state in words, verify the caller (a code to the chosen holder's
// number, or their app's code, read out), act on the account while verified, and show or
// download its monthly report. Every call goes to /api/support/ with the session cookie
// (`same-origin`); every change also carries the console's header (the browser adds Origin).
// The page never holds the session: the cookie is HttpOnly, and a 401 means signed out.
// What the API says is what is shown: after every action the account is read again.

import { call } from "../assets/api.js";
import { errorParts as portalErrorParts, once, readUsername, setFieldError } from "../assets/form.js";
import { canFill, formatTime, hasText, locale, render, t, usePageTexts } from "../assets/i18n.js";
import { markReady, startPage } from "../assets/page.js";

const $ = (selector) => document.querySelector(selector);
const ACCOUNT_KEY = "pwportal.support.account"; // the username shown, for a reload (no secret)
const TIME_ZONE = "Europe/Stockholm"; // as the SMS and the CLI say times (SPEC 9 v3)

usePageTexts((lang) => import(`./texts/${lang}.js`));

// me: GET /me; view: the account's; pending: a verification's code asked for; chosen: the
// holder picked to verify; adding: a new holder's code sent; confirm: the action asked about.
const state = { me: null, view: null, pending: null, chosen: null, adding: null, confirm: null, report: null };
let expiryTimer;

// -- the API -----------------------------------------------------------------------------------

const CHANGE = { "X-Pwportal-Console": "1" };

function api(method, path, body) {
  const options = { credentials: "same-origin", headers: method === "GET" ? {} : CHANGE };
  if (body !== undefined) options.body = body;
  return call(method, `/support${path}`, options);
}

const accountPath = (username = state.view?.username) => `/accounts/${encodeURIComponent(username)}`;

// -- words: times, errors ----------------------------------------------------------------------

const dateTime = (iso) => new Intl.DateTimeFormat(locale(), {
  day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: TIME_ZONE,
}).format(new Date(iso));
const longDate = (iso) => new Intl.DateTimeFormat(locale(), {
  day: "numeric", month: "long", year: "numeric", timeZone: TIME_ZONE,
}).format(new Date(iso));
const clockAfter = (seconds) => formatTime(new Date(Math.ceil((Date.now() + seconds * 1000) / 60000) * 60000));
const word = (prefix, value) => (value && hasText(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : value || "–");

/** An ApiError as parts to show: the console's own words for its codes, else the portals'
 *  (or the API's own sentence), and when to try again; never "contact support": the reader
 *  is support. */
function errorParts(error) {
  const fields = error.fields ?? {};
  const key = `console.error.${error.code}`;
  if (!canFill(key, fields)) return portalErrorParts(error).filter((part) => !part.support);
  const parts = [{ key, params: fields }];
  const seconds = fields.retry_after;
  if (seconds) {
    parts.push(seconds < 60 ? { key: "error.retryInSeconds", params: { seconds } }
      : { key: "error.retryAt", params: { time: clockAfter(seconds) } });
  }
  return parts;
}

function paragraph(part) {
  const p = document.createElement("p");
  if (part.key) render(p, part.key, part.params ?? {});
  else {
    p.textContent = part.text;
    if (part.lang) p.lang = part.lang;
  }
  return p;
}

function showError(box, error) {
  box.replaceChildren(...errorParts(error).map(paragraph));
}

function showNotice(box, ...parts) {
  box.replaceChildren(...parts.map(paragraph));
}

const clear = (...boxes) => boxes.forEach((box) => box.replaceChildren());

function clearField(input) {
  const box = document.getElementById(`${input.id}-error`);
  input.removeAttribute("aria-invalid");
  box.hidden = true;
  box.replaceChildren();
  const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== box.id);
  if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
  else input.removeAttribute("aria-describedby");
}

/** A 401 anywhere: the session is over (idle, at most 8 hours, or signed out elsewhere). */
function signedOutIfSo(error) {
  if (error.status !== 401) return false;
  signedOut("console.sessionEnded");
  return true;
}

// -- the views ---------------------------------------------------------------------------------

function showView(name) {
  for (const section of document.querySelectorAll("[data-view]")) section.hidden = section.dataset.view !== name;
  const signedIn = name === "console";
  $("#agent").hidden = !signedIn;
  $("#sign-out").hidden = !signedIn;
}

async function begin() {
  try {
    state.me = await api("GET", "/me");
  } catch (error) {
    if (error.status === 401) return signedOut(null, { focus: false });
    if (error.status === 404) return signedOut("console.off", { focus: false });
    showView("signed-out");
    return showError($("#page-alert"), error);
  }
  signedIn();
  let remembered = null;
  try {
    remembered = sessionStorage.getItem(ACCOUNT_KEY);
  } catch {
    // storage switched off: the agent types the username again after a reload
  }
  if (remembered) {
    $("#find-username").value = remembered;
    await findAccount(remembered, { focus: false });
  }
}

function signedIn() {
  render($("#agent"), "console.signedInAs", { name: state.me.agent.name });
  showView("console");
  drawTitle();
}

function signedOut(noticeKey, { focus = true } = {}) {
  clearTimeout(expiryTimer);
  Object.assign(state, { me: null, view: null, pending: null, chosen: null, adding: null, confirm: null,
                         report: null });
  try {
    sessionStorage.removeItem(ACCOUNT_KEY);
  } catch {
    // nothing kept
  }
  $("#account").hidden = true;
  $("#find-username").value = "";
  const notice = $("#signed-out-notice");
  if (noticeKey) showNotice(notice, { key: noticeKey });
  else clear(notice);
  $("#sign-in").hidden = noticeKey === "console.off"; // off: there is nothing to sign in to
  showView("signed-out");
  drawTitle();
  if (focus) $('[data-view="signed-out"] h1').focus();
}

function drawTitle() {
  document.title = state.view
    ? `${t("console.account.heading", { username: state.view.username })} – ${t("console.name")}`
    : t("console.name");
}

function redraw() {
  if (state.me) render($("#agent"), "console.signedInAs", { name: state.me.agent.name });
  if (state.view) drawAccount();
  if (state.pending) drawPending();
  if (state.report) drawReport();
  drawTitle();
}

// -- find and show an account ------------------------------------------------------------------

async function findAccount(username, { focus = true } = {}) {
  clear($("#find-alert"));
  clearField($("#find-username"));
  try {
    const view = await api("GET", accountPath(username));
    if (view.username !== state.view?.username) {
      Object.assign(state, { pending: null, chosen: null, adding: null, confirm: null, report: null });
      clear($("#actions-alert"), $("#actions-notice"), $("#verify-alert"), $("#report-alert"));
      $("#report").hidden = true;
    }
    state.view = view;
    try {
      sessionStorage.setItem(ACCOUNT_KEY, view.username);
    } catch {
      // then a reload shows the search only
    }
    drawAccount();
    drawTitle();
    if (focus) $("#account-heading").focus();
  } catch (error) {
    if (signedOutIfSo(error)) return;
    if (error.code === "not_found") {
      state.view = null;
      try {
        sessionStorage.removeItem(ACCOUNT_KEY);
      } catch {
        // nothing kept
      }
      $("#account").hidden = true;
      drawTitle();
      setFieldError($("#find-username"), "console.find.notFound", { username });
      $("#find-username").focus();
      return;
    }
    showError($("#find-alert"), error);
  }
}

/** The account read again after a change (the API's word is what is shown). */
async function reloadAccount() {
  if (state.view) await findAccount(state.view.username, { focus: false });
}

const verified = () => {
  const until = state.view?.verified?.until;
  return until && until * 1000 > Date.now() ? state.view.verified : null;
};

function drawAccount() {
  const view = state.view;
  $("#account").hidden = false;
  render($("#account-heading"), "console.account.heading", { username: view.username });
  const status = $("#account-status");
  render(status, view.disabled ? "console.account.disabled" : "console.account.active");
  status.classList.toggle("is-disabled", Boolean(view.disabled));
  drawState(view);
  drawVerify(view);
  drawHolders(view);
  drawActions(view);
  drawEvents(view);
  if (!$("#report-month").value) $("#report-month").value = thisMonth();
}

function fact(termKey, ...content) {
  const row = document.createElement("div");
  const dt = document.createElement("dt");
  const dd = document.createElement("dd");
  render(dt, termKey);
  dd.append(...content);
  row.append(dt, dd);
  return row;
}

function sentence(key, params, attention = false) {
  const span = document.createElement("span");
  render(span, key, params);
  if (attention) span.className = "is-attention";
  return span;
}

function drawState(view) {
  const rows = [];
  const password = view.password ?? {};
  rows.push(fact("console.state.password", password.changed_at
    ? sentence(password.expired ? "console.state.passwordExpired" : "console.state.passwordAge",
               { changed: longDate(password.changed_at), days: password.age_days ?? "–",
                 expires: password.expires_at ? longDate(password.expires_at) : "–" }, Boolean(password.expired))
    : sentence("console.state.passwordUnknown")));

  if (view.code_now) {
    rows.push(fact("console.state.codeNow", sentence("console.state.codeYes"),
                   ...(view.app_now ? [" ", sentence("console.state.appYes")] : [])));
  } else {
    const list = document.createElement("ul");
    for (const { reason, until } of view.why_no_code ?? []) {
      const li = document.createElement("li");
      const said = word("console.reason", reason);
      li.textContent = until ? t("console.reason.until", { reason: said, time: dateTime(until) }) : said;
      list.append(li);
    }
    rows.push(fact("console.state.codeNow", sentence("console.state.codeNo", {}, true), list,
                   ...(view.app_now ? [sentence("console.state.appYes")] : [])));
  }

  const locks = view.locks ?? {};
  rows.push(fact("console.state.loginLock", locks.login_locked_until
    ? sentence("console.state.loginLocked", { time: dateTime(locks.login_locked_until) }, true)
    : sentence("console.state.loginOpen", { failures: locks.login_failures ?? 0 })));
  rows.push(fact("console.state.resetPause", locks.reset_paused_until
    ? sentence("console.state.resetPaused", { time: dateTime(locks.reset_paused_until) }, true)
    : sentence("console.state.resetOpen", { wrong: locks.wrong_codes ?? 0 })));

  const directory = view.directory;
  if (directory) {
    const key = directory.unavailable ? "console.state.directoryUnavailable"
      : !directory.exists ? "console.state.directoryMissing"
      : directory.locked === true ? "console.state.directoryLocked"
        : directory.locked === false ? "console.state.directoryOpen" : "console.state.directoryUnknown";
    rows.push(fact("console.state.directory", sentence(key, {}, directory.unavailable || !directory.exists || directory.locked === true)));
  }
  $("#state").replaceChildren(...rows);
}

/** A masked number as the API gives it (+4670*****67), written as the CLI and the SMS write
 *  it (070-*** ** 67), for reading out on the phone; anything else as it came. */
function number(masked) {
  const found = /^\+46(\d{2})\*{5}(\d{2})$/.exec(masked ?? "");
  return found ? `0${found[1]}-*** ** ${found[2]}` : masked ?? "";
}

const holderName = (holder) => holder.name || number(holder.phone);
// A holder the API names by id and name (a verification): an unnamed one by their number.
const namedHolder = (id, name) => name || number((state.view?.holders ?? []).find((h) => h.id === id)?.phone);

/** The holder whose radio button is chosen (its value is the holder's place in the view). */
function chosenHolder() {
  const radio = document.querySelector('input[name="holder"]:checked');
  return radio ? state.view?.holders?.[Number(radio.value)] : undefined;
}

// -- verifying the caller ----------------------------------------------------------------------

function drawVerify(view) {
  const holders = view.holders ?? [];
  const chosen = holders.some((holder) => holder.id === state.chosen) ? state.chosen : holders[0]?.id;
  const radios = holders.map((holder, i) => {
    const row = document.createElement("div");
    row.className = "radio";
    const input = document.createElement("input");
    Object.assign(input, { type: "radio", name: "holder", id: `verify-holder-${i}`, value: String(i) });
    input.checked = chosen === holder.id;
    input.dataset.app = holder.app ? "1" : "";
    input.addEventListener("change", () => {
      state.chosen = holder.id;
      drawChannels();
    });
    const label = document.createElement("label");
    label.htmlFor = input.id;
    label.textContent = `${holder.name || t("console.holders.unnamed")}, ${number(holder.phone)}`;
    row.append(input, label);
    return row;
  });
  $("#verify-holders").replaceChildren(...radios);
  $("#verify-no-holders").hidden = holders.length > 0;
  $("#verify-start-form").hidden = !holders.length || Boolean(state.pending);
  $("#verify-code-form").hidden = !state.pending;
  drawChannels();

  clearTimeout(expiryTimer);
  const done = verified();
  const box = $("#verified");
  if (done) {
    showNotice(box, { key: "console.verify.done", params: {
      agent: state.me.agent.name, holder: namedHolder(done.holder_id, done.holder_name),
      time: formatTime(new Date(done.until * 1000)) } });
    // When the 15 minutes are over the actions close again, without a click.
    expiryTimer = setTimeout(expired, Math.min(done.until * 1000 - Date.now(), 2 ** 31 - 1));
  } else clear(box);
}

function expired() {
  if (!state.view) return;
  state.view = { ...state.view, verified: null };
  drawAccount();
  showNotice($("#verify-alert"), { key: "console.verify.expired" });
}

/** The app's choice only for a holder who has an app. */
function drawChannels() {
  const holder = document.querySelector('input[name="holder"]:checked');
  const app = $("#verify-app");
  app.disabled = !holder?.dataset.app;
  if (app.disabled && app.checked) $("#verify-sms").checked = true;
}

function drawPending() {
  const pending = state.pending;
  const name = namedHolder(pending.holder_id, pending.holder_name);
  if (pending.channel === "app") render($("#verify-sent"), "console.verify.appAsk", { name });
  else {
    render($("#verify-sent"), "console.verify.smsSent", { name, phone: number(pending.phone),
                                                          minutes: Math.round((pending.expires_in ?? 600) / 60) });
  }
}

async function startVerification() {
  clear($("#verify-alert"));
  const holder = chosenHolder();
  if (!holder) return;
  const channel = document.querySelector('input[name="channel"]:checked')?.value ?? "sms";
  try {
    const answer = await api("POST", `${accountPath()}/verify/start`, { holder_id: holder.id, channel });
    state.pending = { ...answer, channel: answer.channel ?? channel };
    drawPending();
    $("#verify-code").value = "";
    clearField($("#verify-code"));
    $("#verify-start-form").hidden = true;
    $("#verify-code-form").hidden = false;
    $("#verify-code").focus();
  } catch (error) {
    if (signedOutIfSo(error)) return;
    showError($("#verify-alert"), error);
    if (error.code === "holder_not_found") await reloadAccount();
  }
}

function typedDigits(input) {
  return input.value.replace(/[\s\u00a0-]/g, "");
}

async function checkVerification() {
  const input = $("#verify-code");
  clearField(input);
  clear($("#verify-alert"));
  const code = typedDigits(input);
  if (!/^\d+$/.test(code)) {
    setFieldError(input, "console.verify.codeMissing");
    input.focus();
    return;
  }
  try {
    const answer = await api("POST", `${accountPath()}/verify`, { code });
    state.pending = null;
    state.view = { ...state.view, verified: answer.verified };
    input.value = "";
    await reloadAccount();
    $("#actions-heading").focus(); // what the agent does next; the notice above says who for
  } catch (error) {
    if (signedOutIfSo(error)) return;
    if (error.code === "invalid_code") {
      setFieldError(input, errorParts(error));
      input.focus();
      input.select();
      return;
    }
    if (["code_expired", "too_many_attempts"].includes(error.code)) {
      state.pending = null;
      drawAccount();
    }
    showError($("#verify-alert"), error);
  }
}

function cancelVerification() {
  state.pending = null;
  clear($("#verify-alert"));
  drawAccount();
  document.querySelector('input[name="holder"]:checked')?.focus();
}

// -- the holders and the actions ---------------------------------------------------------------

function holderFacts(holder) {
  const dl = document.createElement("dl");
  const pair = (key, value) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    render(dt, key);
    dd.append(value);
    dl.append(dt, dd);
  };
  const phone = document.createElement("span");
  phone.className = "nowrap";
  phone.textContent = number(holder.phone);
  pair("console.holders.phone", phone);
  pair("console.holders.app", t(holder.app ? "console.holders.appYes" : "console.holders.appNo"));
  pair("console.holders.lastUsed", holder.last_used_at ? dateTime(holder.last_used_at) : t("console.holders.never"));
  pair("console.holders.proven", t(holder.proven ? "console.holders.provenYes" : "console.holders.provenNo"));
  if (holder.added_at) pair("console.holders.added", longDate(holder.added_at));
  return dl;
}

function actionButton(key, params, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.dataset.action = "";
  render(button, key, params);
  button.addEventListener("click", onClick);
  return button;
}

function drawHolders(view) {
  const holders = view.holders ?? [];
  $("#holders-none").hidden = holders.length > 0;
  $("#holders").replaceChildren(...holders.map((holder) => {
    const li = document.createElement("li");
    const name = document.createElement("strong");
    name.className = "holder-name";
    name.textContent = holder.name || t("console.holders.unnamed");
    li.append(name, holderFacts(holder));
    if (holder.sms_allowed_at) {
      const limit = document.createElement("p");
      render(limit, "console.holders.smsLimit", { time: dateTime(holder.sms_allowed_at) });
      li.append(limit);
    }
    const row = document.createElement("div");
    row.className = "actions";
    const params = { name: holderName(holder) };
    if (holder.app) {
      row.append(actionButton("console.holders.removeApp", params, () => ask(
        { key: "console.confirm.removeApp", params },
        () => act("DELETE", `/holders/${encodeURIComponent(holder.id)}/authenticator`, undefined,
                  () => [{ key: "console.removed.app", params }]))));
    }
    row.append(actionButton("console.holders.remove", params, () => ask(
      { key: "console.confirm.removeHolder", params },
      () => act("DELETE", `/holders/${encodeURIComponent(holder.id)}`, undefined,
                () => [{ key: "console.removed.holder", params }]))));
    li.append(row);
    return li;
  }));
}

function drawActions(view) {
  const caller = verified();
  for (const button of document.querySelectorAll("#account [data-action]")) button.disabled = !caller;
  $("#actions-locked").hidden = Boolean(caller);
  if (caller) {
    render($("#reset-link"), "console.actions.resetLink", { name: namedHolder(caller.holder_id, caller.holder_name) });
  } else {
    render($("#reset-link"), "console.actions.resetLinkNobody");
  }
  $("#disable").hidden = Boolean(view.disabled);
  $("#enable").hidden = !view.disabled;
  $("#add-form").hidden = Boolean(state.adding);
  $("#add-code-form").hidden = !state.adding;
  if (!state.confirm) $("#confirm").hidden = true;
}

/** A destructive action asks first, in the page (no browser dialog), its answer at hand. */
function ask(question, then) {
  state.confirm = then;
  render($("#confirm-question"), question.key, question.params);
  $("#confirm").hidden = false;
  $("#confirm-question").focus();
}

function answer(yes) {
  const then = state.confirm;
  state.confirm = null;
  $("#confirm").hidden = true;
  if (yes && then) then();
  else $("#actions-heading").scrollIntoView({ block: "nearest" });
}

/** One action on the account: its answer said in the notice, the account read again. */
async function act(method, path, body, said) {
  clear($("#actions-alert"), $("#actions-notice"));
  try {
    const answered = await api(method, `${accountPath()}${path}`, body);
    await reloadAccount();
    showNotice($("#actions-notice"), ...said(answered));
    $("#actions-notice").scrollIntoView({ block: "nearest" });
  } catch (error) {
    if (signedOutIfSo(error)) return;
    showError($("#actions-alert"), error);
    if (["caller_not_verified", "holder_not_found"].includes(error.code)) await reloadAccount();
    $("#actions-alert").scrollIntoView({ block: "nearest" });
  }
}

const told = { key: "console.actions.told" };

function unlocked(answered) {
  const cleared = answered.cleared ?? [];
  if (!cleared.length) return [{ key: "console.actions.unlockNothing" }];
  const what = cleared.map((name) => word("console.actions.cleared", name)).join(", ");
  return [{ key: "console.actions.unlockDone", params: { what } }, told];
}

async function addHolder() {
  const name = $("#add-name");
  const phone = $("#add-phone");
  clearField(name);
  clearField(phone);
  clear($("#actions-alert"), $("#actions-notice"));
  if (!name.value.trim()) setFieldError(name, "console.add.nameMissing");
  if (!phone.value.trim()) setFieldError(phone, "console.add.phoneMissing");
  if (!name.value.trim() || !phone.value.trim()) {
    (name.value.trim() ? phone : name).focus();
    return;
  }
  try {
    const answered = await api("POST", `${accountPath()}/holders`,
                               { name: name.value.trim(), phone: phone.value.trim() });
    state.adding = { name: name.value.trim(), phone: number(answered.phone) };
    render($("#add-sent"), "console.add.sent", { phone: state.adding.phone });
    $("#add-code").value = "";
    drawActions(state.view);
    $("#add-code").focus();
  } catch (error) {
    if (signedOutIfSo(error)) return;
    if (["invalid_name"].includes(error.code)) return fieldProblem(name, error);
    if (["invalid_phone", "phone_not_allowed"].includes(error.code)) return fieldProblem(phone, error);
    showError($("#actions-alert"), error);
    if (error.code === "caller_not_verified") await reloadAccount();
  }
}

function fieldProblem(input, error) {
  setFieldError(input, errorParts(error));
  input.focus();
}

async function confirmHolder() {
  const input = $("#add-code");
  clearField(input);
  const code = typedDigits(input);
  if (!/^\d+$/.test(code)) {
    setFieldError(input, "console.verify.codeMissing");
    input.focus();
    return;
  }
  try {
    const answered = await api("POST", `${accountPath()}/holders/verify`, { code });
    const name = answered.holder?.name ?? state.adding.name;
    state.adding = null;
    $("#add-name").value = $("#add-phone").value = "";
    await reloadAccount();
    showNotice($("#actions-notice"), { key: "console.add.done", params: { name } }, told);
    $("#actions-notice").scrollIntoView({ block: "nearest" });
  } catch (error) {
    if (signedOutIfSo(error)) return;
    if (error.code === "invalid_code") return fieldProblem(input, error);
    state.adding = null;
    drawActions(state.view);
    showError($("#actions-alert"), error);
  }
}

// -- the events and the report -----------------------------------------------------------------

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function drawEvents(view) {
  const events = view.events ?? [];
  $("#events-none").hidden = events.length > 0;
  $("#events").closest(".table-wrap").hidden = !events.length;
  $("#events tbody").replaceChildren(...events.map((event) => {
    const tr = document.createElement("tr");
    const what = word("console.event", event.event);
    tr.append(cell(dateTime(event.time), "when"), cell(event.subject_name ? `${what}: ${event.subject_name}` : what),
              cell(word("console.outcome", event.outcome)), cell(event.who ?? "–"),
              cell(word("console.channel", event.channel)));
    return tr;
  }));
}

function thisMonth() {
  const parts = new Intl.DateTimeFormat("sv-SE", { year: "numeric", month: "2-digit", timeZone: TIME_ZONE })
    .formatToParts(new Date());
  return `${parts.find((p) => p.type === "year").value}-${parts.find((p) => p.type === "month").value}`;
}

const reportPath = (month, csv = false) =>
  `${accountPath()}/report?month=${encodeURIComponent(month)}${csv ? "&format=csv" : ""}`;

async function showReport() {
  const input = $("#report-month");
  clearField(input);
  clear($("#report-alert"));
  const month = input.value.trim();
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) {
    setFieldError(input, "console.report.monthMissing");
    input.focus();
    return;
  }
  try {
    state.report = { month, ...(await api("GET", reportPath(month))) };
    drawReport();
    $("#report-title").focus();
  } catch (error) {
    if (signedOutIfSo(error)) return;
    showError($("#report-alert"), error);
  }
}

function drawReport() {
  const report = state.report;
  $("#report").hidden = false;
  $("#report-title").tabIndex = -1;
  $("#report-title").textContent = report.title ?? report.month;
  const head = document.createElement("tr");
  head.append(...(report.columns ?? []).map((name) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;
    return th;
  }));
  $("#report-table thead").replaceChildren(head);
  const rows = report.rows ?? [];
  $("#report-table tbody").replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.append(...row.map((value) => cell(value === null || value === undefined ? "–" : String(value))));
    return tr;
  }));
  $("#report-empty").hidden = rows.length > 0;
  $("#report-table").closest(".table-wrap").hidden = !rows.length;
  $("#report-csv").href = `/api/support${reportPath(report.month, true)}`;
  $("#report-csv").download = `${state.view.username}-${report.month}.csv`;
}

// -- the page's controls -----------------------------------------------------------------------

function onSubmit(form, task) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    once(form.id, task);
  });
}

function onClick(selector, task) {
  $(selector).addEventListener("click", () => once(selector, task));
}

function wire() {
  onClick("#sign-out", async () => {
    try {
      await api("POST", "/logout", {});
    } catch (error) {
      if (error.status !== 401) return showError($("#page-alert"), error);
    }
    clear($("#page-alert"));
    signedOut("console.signedOutNow");
  });
  onSubmit($("#find-form"), async () => {
    const input = $("#find-username");
    clearField(input);
    const { username, problem } = readUsername(input);
    if (problem) {
      setFieldError(input, problem);
      input.focus();
      return;
    }
    await findAccount(username);
  });
  onClick("#account-reload", reloadAccount);
  onSubmit($("#verify-start-form"), startVerification);
  onSubmit($("#verify-code-form"), checkVerification);
  $("#verify-cancel").addEventListener("click", cancelVerification);
  onClick("#unlock", () => act("POST", "/unlock", {}, unlocked));
  onClick("#reset-link", () => act("POST", "/reset-link", { holder_id: verified()?.holder_id }, (answered) => [{
    key: "console.actions.resetLinkSent",
    params: { phone: number(answered.phone), minutes: Math.round((answered.expires_in ?? 600) / 60) } }]));
  onClick("#disable", async () => ask(
    { key: "console.confirm.disable", params: { username: state.view.username } },
    () => act("POST", "/disable", {}, (answered) => [
      { key: answered.changed === false ? "console.actions.unchanged" : "console.actions.disabledDone" }, told])));
  onClick("#enable", () => act("POST", "/enable", {}, (answered) => [
    { key: answered.changed === false ? "console.actions.unchanged" : "console.actions.enabledDone" }, told]));
  $("#confirm-yes").addEventListener("click", () => answer(true));
  $("#confirm-no").addEventListener("click", () => answer(false));
  onSubmit($("#add-form"), addHolder);
  onSubmit($("#add-code-form"), confirmHolder);
  $("#add-cancel").addEventListener("click", () => {
    state.adding = null;
    drawActions(state.view);
    $("#add-name").focus();
  });
  onSubmit($("#report-form"), showReport);
}

// Last, once every function and constant above exists (an await earlier would run them first).
await startPage({ onLanguageChange: () => redraw() });
for (const fieldset of document.querySelectorAll("fieldset[data-needs-script]")) fieldset.disabled = false;
wire();
await begin();
markReady();
