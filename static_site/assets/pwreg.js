// pwreg (SPEC 2 v2): log in → the account's holders (remove one, confirmed first; or add
// oneself: name and number) → the code sent to the new number → done. Once a person has added
// themselves, the session is theirs (the API's session.holder_id): their own entry, and only
// theirs, offers to add or remove an authenticator app (SPEC 12), an aside step ("app") after
// the four. A person already listed says "Det här är jag" on their own row instead: the code
// goes to that holder's number (never shown whole here), and the session is then theirs too.
// SPEC 15: with the organisation's identity provider on, "Lägg till mig" offers (or requires)
// "Logga in med din jobbinloggning": the browser goes to the provider and comes back with
// `#idp=<handle>`, which the session takes; the name is then the provider's, not typed.

import { call, post } from "./api.js";
import { CodeField } from "./code.js";
import { Flow } from "./flow.js";
import {
  clearMessages, errorParts, once, readUsername, setFieldError, showAlert, showError, showNotice, showPasswords,
} from "./form.js";
import { formatDate, render, t } from "./i18n.js";
import { markReady, showUnavailable, startPage } from "./page.js";
import { nationalNumber, sameNumber } from "./phone.js";

function button(key, className, onClick, label) {
  const made = document.createElement("button");
  made.type = "button";
  made.className = className;
  render(made, key);
  if (label) made.setAttribute("aria-label", label);
  made.addEventListener("click", () => onClick(made));
  return made;
}

function span(className, text) {
  const made = document.createElement("span");
  made.className = className;
  made.textContent = text;
  return made;
}

// The name a holder migrated from version 1 was given (SPEC 9 v2): not a person's name. Such a
// holder, like one without a name, is shown as "Namn saknas" (SPEC 2 v3); whoever has the
// number names it by adding themselves with it (a code to that number proves it).
const MIGRATED_NAME = "Registrerat nummer";
const hasName = (holder) => Boolean(holder.name?.trim()) && holder.name !== MIGRATED_NAME;

/** One holder as a list item: the name and the masked number as text (never markup), whether
 *  they have an app (in words), and a button that asks before removing. The session's own
 *  holder is marked and may add or remove their app; any other named holder has "Det här är
 *  jag" (a holder without a name is named through "Lägg till mig" with the same number). */
function holderItem(holder, { own, onRemove, onAddApp, onRemoveApp, onItsMe }) {
  const item = document.createElement("li");
  const named = hasName(holder);
  const name = span(named ? "holder-name" : "holder-name holder-unnamed",
                    named ? holder.name : t("pwreg.holders.noName"));
  if (holder.proven) name.append(" ", span("holder-proven", t("pwreg.holders.proven")));
  if (own) name.append(" ", span("holder-you", t("pwreg.holders.you")));
  const remove = button("pwreg.holders.remove", "secondary holder-remove", (made) => onRemove(holder, made),
                        named ? t("pwreg.holders.removeNamed", { name: holder.name })
                          : t("pwreg.holders.removeUnnamed", { phone: holder.phone_masked }));
  remove.dataset.holder = holder.id;
  const app = document.createElement("div");
  app.className = "holder-app";
  app.append(span("holder-app-state", t(holder.authenticator ? "pwreg.holders.hasApp" : "pwreg.holders.noApp")));
  if (own && holder.authenticator) {
    app.append(" ", button("pwreg.app.remove", "link", (made) => onRemoveApp(holder, made)));
  } else if (own) {
    app.append(" ", button("pwreg.app.add", "secondary", () => onAddApp("phone")));
  }
  item.append(name, " ", span("holder-phone", holder.phone_masked), " ", remove);
  if (!own && named) {
    item.append(" ", button("pwreg.holders.itsMe", "secondary holder-its-me", (made) => onItsMe(holder, made),
                            t("pwreg.holders.itsMeNamed", { name: holder.name })));
  }
  item.append(app);
  if (!named) item.append(span("holder-hint", t("pwreg.holders.noNameHint")));
  return item;
}

const $ = (selector) => document.querySelector(selector);
const idpAnswer = takeIdpAnswer(); // at once, before anything is awaited
const DAY = 24 * 60 * 60 * 1000;
const midnight = (date) => new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
const daysUntil = (date) => Math.round((midnight(date) - midnight(new Date())) / DAY);
let redraw = () => {};
const config = await startPage({ onLanguageChange: () => redraw() });
if (config) run(config);
else showUnavailable();
markReady();

// What the identity provider's sign-in brought back (SPEC 15): `#idp=<handle>` for the session
// to take, or `#idp=failed|unavailable`. Taken out of the address bar at once.
function takeIdpAnswer() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const answer = fragment.get("idp");
  if (answer === null) return null;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  return answer;
}

function run(config) {
  const warningDays = Math.max(...(config.policy.reminder_days ?? [14])); // SPEC 2, pwreg step 4
  const flow = new Flow({
    name: "pwreg",
    portalKey: "pwreg.portal",
    steps: ["login", "phone", "code", "done", "app"],
    counted: 4,
    canShow: (step, data) => ({
      phone: Boolean(data.session), code: Boolean(data.session && data.newPhone), done: Boolean(data.done),
      app: Boolean(data.session && enrolling?.key),
    })[step],
    enter,
  });
  const usernameInput = $("#reg-username");
  const passwordInput = $("#reg-password");
  const phoneInput = $("#reg-phone");
  const nameInput = $("#reg-name");
  const confirmBox = $("#reg-remove");
  let removing = null; // the holder whose removal (or whose app's) is being confirmed, the button that asked
  let enrolling = null; // the authenticator app's Enrolment, once assets/authenticator.js is loaded
  const codeInput = $("#reg-code");
  const code = new CodeField(flow.section("code"), config.code.length);
  showPasswords($("#reg-show"), [passwordInput]);

  function enter(step, { from }) {
    if (step !== "code") code.leave();
    if (from !== step) clearMessages(flow.section(step));
    const data = flow.data;
    if (step === "login" && !usernameInput.value) usernameInput.value = data.username ?? "";
    if (step === "phone") {
      $("#reg-account").textContent = data.username;
      drawHolders();
      drawIdp();
      // a listed holder's code ("Det här är jag") leaves the form as it was: its number is masked
      if (data.newPhone && !data.newHolderId && !phoneInput.value) phoneInput.value = nationalNumber(data.newPhone);
      if (data.newName && !data.newHolderId && !nameInput.value) nameInput.value = data.newName;
    }
    if (step === "code") {
      render($("#reg-code-sent"), "pwreg.code.sent", { phone: nationalNumber(data.newPhone) });
      code.enter(data.resendAt, { sentAt: data.sentAt, hint: noCodeHint() });
    }
    if (step === "done") drawDone(data.done);
    if (step === "app") enrolling.draw();
  }

  /** The holder this session is (added in it through "Lägg till mig"), if still listed. */
  const ownHolder = () => (flow.data.holders ?? []).find((holder) => holder.id === flow.data.ownHolderId) ?? null;

  /** "Logga in med din jobbinloggning" (SPEC 15): offered beside the typed name, or required
   *  (no name field, no form before it); once proven, the name is the provider's. */
  function drawIdp() {
    const mode = flow.data.holderIdentity ?? config.holder_identity ?? "off";
    const proven = flow.data.provenName;
    $("#reg-idp").hidden = mode === "off" && !proven;
    $("#reg-idp-start").hidden = Boolean(proven);
    if (proven) render($("#reg-idp-text"), "pwreg.idp.proven", { name: proven });
    else render($("#reg-idp-text"), mode === "required" ? "pwreg.idp.required" : "pwreg.idp.offer");
    $("#reg-name-field").hidden = Boolean(proven) || mode === "required";
    $("#reg-phone-form").hidden = mode === "required" && !proven;
  }

  $("#reg-idp-start").addEventListener("click", () => once("idp", async () => {
    clearMessages(flow.section("phone"));
    try {
      const { url } = await call("POST", "/registration/idp/begin",
                                 { body: {}, session: flow.data.session, credentials: "same-origin" });
      window.location.assign(url);
    } catch (error) {
      if (error.code === "invalid_session") return sessionEnded(error);
      showError(flow.alert("phone"), error);
    }
  }));

  /** Back from the provider: the session takes the proven identity by its handle. */
  async function takeIdentity(answer) {
    if (!flow.data.session) return;
    flow.show("phone", { history: "replace" });
    const say = (key) => {
      const said = document.createElement("p");
      render(said, key);
      showAlert(flow.alert("phone"), [said]);
    };
    if (answer === "failed" || answer === "unavailable") return say(`pwreg.idp.${answer}`);
    try {
      const { name } = await post("/registration/idp/finish", { handle: answer }, flow.data.session);
      flow.update({ provenName: name });
      drawIdp();
      phoneInput.focus();
    } catch (error) {
      if (error.code === "invalid_session") return sessionEnded(error);
      if (error.code === "code_expired") return say("pwreg.idp.failed"); // used, or too old
      showError(flow.alert("phone"), error);
    }
  }

  function drawHolders() {
    const holders = flow.data.holders ?? [];
    const own = ownHolder();
    $("#reg-holders").replaceChildren(...holders.map((holder) => holderItem(holder, {
      own: holder === own, onRemove: askRemove, onAddApp: startEnrolment, onRemoveApp: askRemoveApp, onItsMe: itsMe,
    })));
    $("#reg-holders").hidden = holders.length === 0;
    $("#reg-no-holders").hidden = holders.length > 0;
    $("#reg-keep").hidden = holders.length === 0;
    $("#reg-app-later").hidden = Boolean(own);
    $("#reg-full").hidden = holders.length < (flow.data.maxHolders ?? Infinity);
    if (removing && !holders.some((holder) => holder.id === removing.holder.id)) closeConfirm(false);
  }

  const REMOVE_TEXTS = {
    holder: ["pwreg.holders.removeQuestion", "pwreg.holders.removeHow", "pwreg.holders.removeYes"],
    unnamed: ["pwreg.holders.removeQuestionUnnamed", "pwreg.holders.removeHow", "pwreg.holders.removeYes"],
    app: ["pwreg.app.removeQuestion", "pwreg.app.removeHow", "pwreg.app.removeYes"],
  };

  function askRemove(holder, button, what = "holder") {
    removing = { holder, button, what };
    const [question, how, yes] = REMOVE_TEXTS[what === "holder" && !hasName(holder) ? "unnamed" : what];
    render($("#reg-remove-question"), question, { name: holder.name, phone: holder.phone_masked });
    render($("#reg-remove-how"), how);
    render($("#reg-remove-yes"), yes);
    confirmBox.hidden = false;
    $("#reg-remove-no").focus();
  }

  const askRemoveApp = (holder, button) => askRemove(holder, button, "app");

  /** The list with one holder as the API now has them. */
  function withHolder(changed) {
    const holders = flow.data.holders ?? [];
    return holders.some((holder) => holder.id === changed.id)
      ? holders.map((holder) => (holder.id === changed.id ? { ...holder, ...changed } : holder))
      : [...holders, changed];
  }

  function closeConfirm(refocus = true) {
    confirmBox.hidden = true;
    const button = removing?.button;
    removing = null;
    if (refocus && button?.isConnected) button.focus();
  }

  $("#reg-remove-no").addEventListener("click", () => closeConfirm());
  $("#reg-remove-yes").addEventListener("click", () => once("remove", async () => {
    if (!removing) return;
    const { holder, what } = removing;
    clearMessages(flow.section("phone"));
    if (what === "app") return removeApp(holder);
    try {
      await call("DELETE", `/registration/holders/${encodeURIComponent(holder.id)}`,
                 { session: flow.data.session });
    } catch (error) {
      if (error.code === "invalid_session") return sessionEnded(error);
      if (error.code !== "not_found") return showError(flow.alert("phone"), error);
    }
    flow.update({ holders: (flow.data.holders ?? []).filter((one) => one.id !== holder.id) });
    closeConfirm(false);
    drawHolders();
    if (hasName(holder)) showNotice(flow.notice("phone"), "pwreg.holders.removed", { name: holder.name });
    else showNotice(flow.notice("phone"), "pwreg.holders.removedUnnamed", { phone: holder.phone_masked });
    nameInput.focus();
  }));

  async function removeApp(holder) {
    try {
      await call("DELETE", `/registration/holders/${encodeURIComponent(holder.id)}/authenticator`,
                 { session: flow.data.session });
    } catch (error) {
      if (error.code === "invalid_session") return sessionEnded(error);
      return showError(flow.alert("phone"), error);
    }
    flow.update({ holders: withHolder({ id: holder.id, authenticator: false }) });
    closeConfirm(false);
    drawHolders();
    showNotice(flow.notice("phone"), "pwreg.app.removed");
    $("#reg-holders .holder-app button")?.focus(); // "add an app", where the removed one was
  }

  // The authenticator app's enrolment (SPEC 12) lives in assets/authenticator.js, loaded when a
  // holder first asks for it: the other visitors never load it.
  async function startEnrolment(from) {
    try {
      const { Enrolment } = await import("./authenticator.js");
      enrolling ??= new Enrolment({ flow, ownHolder, withHolder, sessionEnded });
    } catch {
      return showError(flow.alert(flow.current), { code: "network" });
    }
    return enrolling.start(from);
  }

  $("#reg-done-app-add").addEventListener("click", () => startEnrolment("done"));
  // Done here: the session (kept open so that the holder may add their app) ends now, also
  // on a shared computer; a session that could not be ended runs out in 15 minutes.
  $("#reg-logout").addEventListener("click", () => once("logout", async () => {
    const { session, username } = flow.data;
    enrolling?.forget();
    await post("/registration/logout", {}, session).catch(() => {});
    flow.replaceData({ username });
    flow.show("login", { history: "replace" });
    showNotice(flow.notice("login"), "pwreg.done.loggedOut");
  }));

  function drawDone({ username, name, phone, passwordExpiresAt, listed }) {
    render($("#reg-done-text"), listed ? "pwreg.done.textListed" : "pwreg.done.text",
           { name, phone: nationalNumber(phone), username });
    const note = $("#reg-expiry");
    const expires = new Date(passwordExpiresAt);
    if (Number.isNaN(expires.getTime())) return render(note, "pwreg.done.next", { username });
    const days = daysUntil(expires);
    const params = { username, date: formatDate(expires), days };
    const soon = expires <= Date.now() ? "pwreg.done.expired" : days > warningDays ? null
      : days <= 0 ? "pwreg.done.expiresToday" : days === 1 ? "pwreg.done.expiresTomorrow" : "pwreg.done.expiresSoon";
    note.classList.toggle("is-warning", Boolean(soon));
    render(note, soon ?? "pwreg.done.next", params);
    const own = ownHolder();
    $("#reg-done-app").hidden = !own;
    render($("#reg-done-app-text"), own?.authenticator ? "pwreg.done.hasApp" : "pwreg.done.appText");
    $("#reg-done-app-add").hidden = Boolean(own?.authenticator);
  }

  redraw = () => {
    if (flow.current === "done") drawDone(flow.data.done); // the date in the new language
    if (flow.current === "phone") drawHolders(); // the buttons' names
    if (flow.current === "app") enrolling.draw(); // the QR code's name, the key spelled out
    flow.drawTitle();
  };

  // The session is gone (15 minutes passed, or it was ended): log in again, with the username
  // and the number typed kept.
  function sessionEnded(error) {
    enrolling?.forget();
    flow.update({ session: null });
    flow.show("login", { history: "replace" });
    showError(flow.alert("login"), error);
  }

  const noCodeHint = () => ({ key: "pwreg.code.noCode", params: { phone: nationalNumber(flow.data.newPhone) } });

  // A listed holder's code is answered with the number masked (`phone_masked`), shown as it is.
  const codeSent = (answer) => {
    const now = Date.now();
    return { newPhone: answer.phone ?? answer.phone_masked, codeExpiresAt: now + answer.expires_in * 1000,
             resendAt: now + answer.resend_after * 1000, sentAt: now };
  };

  flow.onSubmit($("#reg-login-form"), async () => {
    clearMessages(flow.section("login"));
    const { username, problem } = readUsername(usernameInput);
    const [input, key] = problem ? [usernameInput, problem]
      : passwordInput.value ? [] : [passwordInput, "error.passwordMissing"];
    if (input) {
      setFieldError(input, key);
      input.focus();
      return;
    }
    try {
      const answer = await post("/registration/login", { username, password: passwordInput.value });
      passwordInput.value = phoneInput.value = nameInput.value = "";
      flow.replaceData({ username: answer.username, session: answer.session, holders: answer.holders,
                         maxHolders: answer.max_holders, passwordExpiresAt: answer.password_expires_at,
                         holderIdentity: answer.holder_identity });
      flow.show("phone");
    } catch (error) {
      const field = { invalid_credentials: passwordInput, invalid_request: usernameInput }[error.code];
      if (!field) return showError(flow.alert("login"), error);
      const attempts = error.fields.attempts_left; // how many before the lock, when the API says
      setFieldError(field, [...errorParts(error),
                            ...(Number.isInteger(attempts) ? [{ key: "pwreg.login.attemptsLeft", params: { attempts } }] : [])]);
      field.focus();
      field.select();
    }
  });

  flow.onSubmit($("#reg-phone-form"), async () => {
    clearMessages(flow.section("phone"));
    const typed = phoneInput.value.trim();
    const name = flow.data.provenName ?? nameInput.value.trim(); // the provider's, once proven
    if (!name) setFieldError(nameInput, "error.nameMissing");
    if (!typed) setFieldError(phoneInput, "error.phoneMissing");
    if (!name || !typed) {
      (name ? phoneInput : nameInput).focus();
      return;
    }
    const data = flow.data;
    // Back here and Next with the same name and number: the code already sent still works.
    if (data.newPhone && sameNumber(typed, data.newPhone) && data.newName === name
        && Date.now() < data.codeExpiresAt) {
      flow.show("code");
      return;
    }
    try {
      const answer = await post("/registration/holders", { name, phone: typed }, data.session);
      flow.update({ ...codeSent(answer), newName: name, newHolderId: null });
      code.clear();
      flow.show("code");
    } catch (error) {
      if (error.code === "invalid_session") return sessionEnded(error);
      const field = { invalid_name: nameInput, invalid_phone: phoneInput, phone_not_allowed: phoneInput,
                      invalid_request: phoneInput }[error.code];
      if (!field) return showError(flow.alert("phone"), error);
      setFieldError(field, error);
      field.focus();
    }
  });

  /** "Det här är jag": a code to that listed holder's own number; once right, the session is
   *  theirs (as after "Lägg till mig"), so that they may add their app. */
  function itsMe(holder) {
    return once("itsMe", async () => {
      clearMessages(flow.section("phone"));
      const data = flow.data;
      // Back here and the same row again: the code already sent still works.
      if (data.newHolderId === holder.id && Date.now() < data.codeExpiresAt) {
        flow.show("code");
        return;
      }
      try {
        const answer = await post("/registration/holders", { holder_id: holder.id }, data.session);
        flow.update({ ...codeSent(answer), newName: holder.name, newHolderId: holder.id });
        code.clear();
        flow.show("code");
      } catch (error) {
        if (error.code === "invalid_session") return sessionEnded(error);
        showError(flow.alert("phone"), error);
      }
    });
  }

  flow.onSubmit($("#reg-code-form"), async () => {
    clearMessages(flow.section("code"));
    const typed = code.take();
    if (typed === null) return;
    const data = flow.data;
    try {
      const answer = await post("/registration/holders/verify", { code: typed }, data.session);
      code.clear();
      phoneInput.value = nameInput.value = "";
      // The session is now this holder's (SPEC 12: they may add their app), until it ends.
      flow.replaceData({ username: data.username, session: data.session, holders: withHolder(answer.holder),
                         maxHolders: data.maxHolders, passwordExpiresAt: data.passwordExpiresAt,
                         holderIdentity: data.holderIdentity, provenName: data.provenName,
                         ownHolderId: answer.holder.id,
                         done: { username: data.username, name: answer.holder.name, phone: data.newPhone,
                                 passwordExpiresAt: data.passwordExpiresAt, listed: Boolean(data.newHolderId) } });
      flow.show("done", { history: "replace" });
    } catch (error) {
      if (error.code === "invalid_session") return sessionEnded(error);
      if (error.code !== "invalid_code") return showError(flow.alert("code"), error);
      setFieldError(codeInput, error);
      codeInput.focus();
      codeInput.select();
      if (error.fields.attempts_left === 0) {
        const hint = document.createElement("p");
        render(hint, "code.needNew");
        showAlert(flow.alert("code"), [hint]);
      }
    }
  });

  code.resendButton.addEventListener("click", () => once("resend", async () => {
    clearMessages(flow.section("code"));
    const data = flow.data;
    try {
      const answer = await post("/registration/holders", data.newHolderId ? { holder_id: data.newHolderId }
        : { name: data.newName, phone: data.newPhone }, data.session);
      flow.update(codeSent(answer));
      code.clear();
      code.countDownTo(flow.data.resendAt);
      code.hintAfter(flow.data.sentAt, noCodeHint());
      showNotice(flow.notice("code"), "pwreg.code.resent", { phone: nationalNumber(answer.phone ?? answer.phone_masked) });
      codeInput.focus();
    } catch (error) {
      if (error.code === "invalid_session") return sessionEnded(error);
      if (error.fields.retry_after) {
        flow.update({ resendAt: Date.now() + error.fields.retry_after * 1000 });
        code.countDownTo(flow.data.resendAt);
      }
      showError(flow.alert("code"), error);
    }
  }));
  $("#reg-change-number").addEventListener("click", () => flow.back("phone"));

  flow.start();
  if (idpAnswer) takeIdentity(idpAnswer);
}
