// pwreset (SPEC 2 v2): username and the holder's own mobile number → security code → new
// password → done. The code comes by SMS, or from the holder's authenticator app (SPEC 12):
// offered to everyone, whatever the account (the API answers alike), on step 1 and on the
// code step; choosing the app starts again with `channel: "app"`, which sends no SMS.
// A browser whose last reset was verified with the app remembers that (a flag, nothing about
// the account): step 1's Next then starts with the app, and SMS is the other choice.
// After the right code, a directory that has locked the account (SPEC 16) is offered to be
// unlocked, the password unchanged, beside a new password: unlock.js.
// SPEC 15: with the organisation's identity provider on, step 1 also offers "Logga in med din
// jobbinloggning": a holder it proves comes back to the password step, anyone else to step 1
// with why.

import { call, post } from "./api.js";
import { CodeField } from "./code.js";
import { Flow } from "./flow.js";
import {
  actionButton, clearMessages, once, readUsername, setFieldError, showAlert, showError, showNotice, showPasswords,
  USERNAME,
} from "./form.js";
import { render } from "./i18n.js";
import { markReady, showUnavailable, startPage } from "./page.js";
import { PasswordRules } from "./password.js";
import { typedNumber } from "./phone.js";
import { offerUnlock } from "./unlock.js";

const $ = (selector) => document.querySelector(selector);
const APP_KEY = "pwportal.pwreset.app"; // before the await below: run() reads it
const resetLink = takeResetLink(); // at once, before anything is awaited
const idpAnswer = takeIdpAnswer();
// A link opened in a tab that shows pwreset already changes only the fragment: start again.
window.addEventListener("hashchange", () => {
  if (new URLSearchParams(window.location.hash.slice(1)).has("reset")) window.location.reload();
});
let redraw = () => {};
const config = await startPage({ onLanguageChange: () => redraw() });
if (config) run(config);
else showUnavailable();
markReady();

// The support console's reset link (SPEC 14), sent by SMS to the verified holder:
// `#reset=<token>&u=<username>`, in the fragment so that no server or log ever sees it. It is
// taken out of the address bar at once (history, a shared screen), and the password step
// opens with the token as the reset's own; a used or expired one is refused on complete
// (410 token_expired), which that step already explains.
function takeResetLink() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const token = fragment.get("reset");
  if (token === null) return null;
  history.replaceState({ step: "password" }, "", window.location.pathname + window.location.search);
  const username = (fragment.get("u") ?? "").trim().toLowerCase();
  // `locked=1`: the sign-in that gave the token found the account locked in the directory
  // (SPEC 16), as verify's directory_locked says after a code; the unlock is offered
  const locked = fragment.get("locked") === "1";
  return token && USERNAME.test(username) ? { token, username, locked } : null;
}

// pwreset's third way (SPEC 15): the organisation's identity provider sends the browser back
// through the API with `#idp=<why>&u=<username>` when the sign-in gave no reset token (a token
// comes as the reset link's `#reset=` above): step 1 says why. Taken out of the address bar.
function takeIdpAnswer() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const why = fragment.get("idp");
  if (why === null) return null;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  const username = (fragment.get("u") ?? "").trim().toLowerCase();
  return { why, username: USERNAME.test(username) ? username : "" };
}

// pwreg's done page links here with ?username= (a name, nothing secret): filled in for step 1.
function carriedUsername() {
  const carried = (new URLSearchParams(window.location.search).get("username") ?? "").trim().toLowerCase();
  return USERNAME.test(carried) ? carried : null;
}

// This browser's choice of channel (never a username or a number): set when a code from the
// app was accepted, cleared by a code from an SMS or by choosing SMS. Page-side only: the
// API's answers are the same for everyone.
function prefersApp() {
  try {
    return localStorage.getItem(APP_KEY) === "1";
  } catch {
    return false; // storage switched off: SMS first, as on a first visit
  }
}

function rememberApp(yes) {
  try {
    if (yes) localStorage.setItem(APP_KEY, "1");
    else localStorage.removeItem(APP_KEY);
  } catch {
    // then the page starts with SMS next time
  }
}

function run(config) {
  const flow = new Flow({
    name: "pwreset",
    portalKey: "pwreset.portal",
    steps: ["username", "code", "password", "done", "unlocked"],
    counted: 4, // "unlocked" (SPEC 16, unlock.js) is the other way out of the password step
    canShow: (step, data) => ({
      code: Boolean(data.challenge) && !data.token, password: Boolean(data.token), done: Boolean(data.done),
      unlocked: Boolean(data.unlocked),
    })[step],
    enter,
  });
  const usernameInput = $("#reset-username");
  const phoneInput = $("#reset-phone");
  const codeInput = $("#reset-code");
  const passwordInput = $("#reset-password");
  const againInput = $("#reset-again");
  const code = new CodeField(flow.section("code"), config.code.length);
  const rules = new PasswordRules({ list: $("#reset-rules"), password: passwordInput, again: againInput,
                                    policy: config.policy });
  showPasswords($("#reset-show"), [passwordInput, againInput]);

  // Step 1's buttons: Next starts with the channel this browser prefers, the other one with the other.
  function drawChannels() {
    const app = prefersApp();
    $("#reset-next").value = app ? "app" : "sms";
    $("#reset-other").value = app ? "sms" : "app";
    render($("#reset-other"), app ? "pwreset.code.useSms" : "pwreset.username.useApp");
    render($("#reset-intro"), app ? "pwreset.username.introApp" : "pwreset.username.intro");
  }

  function enter(step, { from }) {
    if (step !== "code") code.leave();
    if (from !== step) clearMessages(flow.section(step));
    const data = flow.data;
    if (step === "username") drawChannels();
    if (step === "username" && !usernameInput.value) usernameInput.value = data.username ?? carriedUsername() ?? "";
    if (step === "username" && !phoneInput.value) phoneInput.value = data.phone ?? "";
    if (step === "code") {
      render($("#reset-code-account"), "pwreset.code.account", { username: data.username });
      drawChannel();
    }
    if (step === "password") {
      render($("#reset-password-account"), "pwreset.password.account", { username: data.tokenUsername });
      $("#reset-account-name").value = data.tokenUsername; // for a password manager to file it under
      if (rules.username !== data.tokenUsername) rules.draw(data.tokenUsername);
      else rules.update();
      unlock.draw();
    }
    if (step === "done") render($("#reset-done-text"), "pwreset.done.text", { username: data.done.username });
    if (step === "unlocked") unlock.drawDone();
  }

  // The number as typed, said back on the code step (SPEC 2 v3): a typo is seen at once.
  const typedPhone = () => ({ phone: typedNumber(flow.data.phone) });

  // The code step as the channel has it: SMS (sent, wait up to 3 minutes, a new one after the
  // countdown, then a hint) or the app (its code at once: nothing sent, nothing to wait for).
  function drawChannel() {
    const app = flow.data.channel === "app";
    render($("#reset-code-lead"), app ? "pwreset.code.app" : "pwreset.code.sent", app ? {} : typedPhone());
    render($("#reset-code-hint"), app ? "pwreset.code.appHint" : "field.codeHint");
    render($("#reset-switch"), app ? "pwreset.code.useSms" : "pwreset.code.useApp");
    $("#reset-app-none").hidden = !app;
    $("#reset-resend").hidden = app;
    if (app) {
      code.useApp();
      code.leave();
    } else {
      code.useSms(config.code.length);
      code.enter(flow.data.resendAt, { sentAt: flow.data.sentAt, hint: noCodeHint() });
    }
  }

  redraw = () => {
    if (flow.current === "password") rules.update();
    flow.drawTitle();
  };

  // A dead challenge or token: back to step 1, the username kept, for a new code.
  const startOverButton = () => actionButton("action.startOver", () => {
    flow.update({ challenge: null, token: null });
    flow.back("username");
  });
  const startOver = (error) => showError(flow.alert(flow.current), error, { actions: [startOverButton()] });
  const unlock = offerUnlock(flow, { startOver });

  const noCodeHint = () => ({ key: "pwreset.code.noCode", params: { ...typedPhone(), username: flow.data.username } });

  const codeSent = (answer) => {
    const now = Date.now();
    return { challenge: answer.challenge, codeExpiresAt: now + answer.expires_in * 1000,
             resendAt: now + answer.resend_after * 1000, sentAt: now };
  };

  flow.onSubmit($("#reset-username-form"), async (submitter) => {
    const channel = submitter?.value === "app" || (!submitter && prefersApp()) ? "app" : "sms";
    clearMessages(flow.section("username"));
    const { username, problem } = readUsername(usernameInput);
    const phone = phoneInput.value.trim();
    if (problem) setFieldError(usernameInput, problem);
    if (!phone) setFieldError(phoneInput, "error.phoneMissing");
    if (problem || !phone) {
      (problem ? usernameInput : phoneInput).focus();
      return;
    }
    const data = flow.data;
    // Back here and Next again for the same account and number: the code already sent still
    // works, and a new start would send nothing (the SMS limit) for a code nobody was told.
    if (data.challenge && !data.token && data.username === username && data.phone === phone
        && (data.channel ?? "sms") === channel && Date.now() < data.codeExpiresAt) {
      flow.show("code");
      return;
    }
    try {
      flow.replaceData({ username, phone, channel,
                         ...codeSent(await post("/reset/start", { username, phone, channel })) });
      if (channel === "sms") rememberApp(false);
      code.clear();
      flow.show("code");
    } catch (error) {
      if (error.code !== "invalid_request") return showError(flow.alert("username"), error);
      // The username passed the page's own check: what the API refused is the number.
      setFieldError(phoneInput, "pwreset.username.phoneInvalid");
      phoneInput.focus();
    }
  });

  flow.onSubmit($("#reset-code-form"), async () => {
    clearMessages(flow.section("code"));
    const typed = code.take();
    if (typed === null) return;
    try {
      const answer = await post("/reset/verify", { challenge: flow.data.challenge, code: typed });
      rememberApp(flow.data.channel === "app");
      flow.update({ challenge: null, token: answer.reset_token, tokenUsername: answer.username,
                    directoryLocked: answer.directory_locked === true });
      code.clear();
      flow.show("password", { history: "replace" }); // Back from there skips the used code
    } catch (error) {
      if (error.code === "invalid_code") {
        setFieldError(codeInput, error, { wrong: flow.data.channel === "app" ? "error.appCodeWrong" : undefined });
        codeInput.focus();
        codeInput.select();
        if (error.fields.attempts_left === 0) {
          const hint = document.createElement("p");
          render(hint, "pwreset.code.startOverHint");
          showAlert(flow.alert("code"), [hint], { actions: [startOverButton()] });
        }
      } else if (["challenge_expired", "invalid_request"].includes(error.code)) {
        startOver(error);
      } else {
        showError(flow.alert("code"), error);
      }
    }
  });

  code.resendButton.addEventListener("click", () => once("resend", async () => {
    clearMessages(flow.section("code"));
    try {
      flow.update(codeSent(await post("/reset/resend", { challenge: flow.data.challenge })));
      code.clear();
      code.countDownTo(flow.data.resendAt);
      code.hintAfter(flow.data.sentAt, noCodeHint());
      showNotice(flow.notice("code"), "pwreset.code.resent", typedPhone());
      codeInput.focus();
    } catch (error) {
      if (["challenge_expired", "invalid_request"].includes(error.code)) return startOver(error);
      if (error.fields.retry_after) {
        flow.update({ resendAt: Date.now() + error.fields.retry_after * 1000 });
        code.countDownTo(flow.data.resendAt);
      }
      showError(flow.alert("code"), error);
    }
  }));
  $("#reset-change-username").addEventListener("click", () => flow.back("username"));

  // The other channel for the same username and number: a new challenge (the old one is left).
  $("#reset-switch").addEventListener("click", () => once("switch", async () => {
    clearMessages(flow.section("code"));
    const { username, phone } = flow.data;
    const channel = flow.data.channel === "app" ? "sms" : "app";
    try {
      flow.update({ channel, ...codeSent(await post("/reset/start", { username, phone, channel })) });
      if (channel === "sms") rememberApp(false);
    } catch (error) {
      if (error.code === "invalid_request") return startOver(error);
      return showError(flow.alert("code"), error);
    }
    code.clear();
    drawChannel();
    showNotice(flow.notice("code"), channel === "app" ? "pwreset.code.appChosen" : "pwreset.code.smsChosen",
               channel === "app" ? {} : typedPhone());
    codeInput.focus();
  }));

  flow.onSubmit($("#reset-password-form"), async () => {
    clearMessages(flow.section("password"));
    const problems = rules.problems();
    if (problems.includes("rules")) {
      rules.markUnmet();
      setFieldError(passwordInput, rules.brokenParts("password.notYet"));
      passwordInput.focus();
      return;
    }
    if (problems.length) {
      if (problems[0] === "mismatch") rules.markUnmet(); // the "typed the same" rule shows as broken
      setFieldError(againInput, problems[0] === "again" ? "password.againMissing" : "password.mismatch");
      againInput.focus();
      return;
    }
    try {
      const answer = await post("/reset/complete", { reset_token: flow.data.token, password: passwordInput.value });
      passwordInput.value = againInput.value = "";
      flow.replaceData({ done: { username: answer.username } });
      flow.show("done", { history: "replace" });
    } catch (error) {
      if (error.code === "password_rejected") {
        // Each broken rule is marked in the list, and named in the field's error, which a
        // phone shows without scrolling.
        rules.reject(error.fields.violations ?? [], error.lang);
        setFieldError(passwordInput, rules.brokenParts("password.rejected"));
        passwordInput.focus();
      } else if (["token_expired", "invalid_request"].includes(error.code)) {
        startOver(error);
      } else if (error.code === "change_unconfirmed") {
        // ldap mode (SPEC 13): the directory may have the new password, and the portal is
        // checking. Not another try on this step: the text says to test the new password in
        // a few minutes, and to start over only if it does not work.
        passwordInput.value = againInput.value = "";
        startOver(error);
      } else {
        showError(flow.alert("password"), error);
      }
    }
  });

  // "Logga in med din jobbinloggning" beside the number (SPEC 15): the username only; the API
  // answers alike for every one, sets the cookie that binds the answer to this browser, and
  // the provider sends the browser back to the password step (a token) or here (why not).
  $("#reset-idp").hidden = (config.holder_identity ?? "off") === "off";
  $("#reset-idp-start").addEventListener("click", () => once("idp", async () => {
    clearMessages(flow.section("username"));
    const { username, problem } = readUsername(usernameInput);
    if (problem) {
      setFieldError(usernameInput, problem);
      usernameInput.focus();
      return;
    }
    try {
      const { url } = await call("POST", "/reset/idp/begin", { body: { username }, credentials: "same-origin" });
      flow.replaceData({ username });
      window.location.assign(url);
    } catch (error) {
      showError(flow.alert("username"), error);
    }
  }));
  const IDP_ANSWERS = { not_a_holder: "pwreset.idp.notAHolder", paused: "pwreset.idp.paused",
                        disabled: "pwreset.idp.disabled", unavailable: "pwreset.idp.unavailable" };

  if (resetLink) flow.replaceData({ token: resetLink.token, tokenUsername: resetLink.username,
                                    directoryLocked: resetLink.locked });
  flow.start();
  if (idpAnswer) {
    flow.replaceData({ username: idpAnswer.username || flow.data.username });
    if (idpAnswer.username) usernameInput.value = idpAnswer.username;
    flow.show("username", { history: "replace" });
    const said = document.createElement("p");
    render(said, IDP_ANSWERS[idpAnswer.why] ?? "pwreset.idp.failed", { username: idpAnswer.username });
    showAlert(flow.alert("username"), [said]);
  }
}
