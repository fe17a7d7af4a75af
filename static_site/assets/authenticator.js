// pwreg's enrolment of an authenticator app (SPEC 12), loaded only when a holder starts one:
// a key from the API, shown once (the QR code the API drew, taken in as SVG without ever
// becoming markup, and the key in groups of 4, spelled out for screen readers and copyable),
// saved by the API when the app's first code is confirmed.

import { post } from "./api.js";
import { typedCode } from "./code.js";
import {
  actionButton, clearMessages, errorParagraphs, once, setFieldError, showAlert, showError, showNotice,
} from "./form.js";
import { formatTime, render, t } from "./i18n.js";

const CODE_LENGTH = 6; // RFC 6238 as the apps make it (chalicelib/domain/authenticator.py)
const $ = (selector) => document.querySelector(selector);

// What a QR code is made of (segno's SVG): anything else (a script, a link, a style, an
// event handler, a foreignObject) is dropped, whoever wrote the answer.
const ELEMENTS = new Set(["svg", "title", "desc", "g", "path", "rect"]);
const ATTRIBUTES = new Set(["viewBox", "class", "role", "d", "fill", "stroke", "stroke-width", "transform",
                            "x", "y", "width", "height", "shape-rendering"]);

function clean(element) {
  for (const child of [...element.children]) {
    if (ELEMENTS.has(child.localName) && child.namespaceURI === element.namespaceURI) clean(child);
    else child.remove();
  }
  for (const { name } of [...element.attributes]) {
    if (!ATTRIBUTES.has(name)) element.removeAttribute(name);
  }
}

/** The API's `qr_svg` as an <svg> node of this document (sized by site.css), named `label`;
 *  null if it is not an SVG. */
function qrImage(svgText, label) {
  const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const root = parsed.documentElement;
  if (root.localName !== "svg" || parsed.getElementsByTagName("parsererror").length) return null;
  clean(root);
  const svg = document.importNode(root, true);
  svg.setAttribute("class", "qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("focusable", "false");
  return svg;
}

/** `ABCD EFGH …`: the key as the app asks for it, in groups of 4. */
const grouped = (secret) => secret.replace(/\s+/g, "").match(/.{1,4}/g)?.join(" ") ?? "";

/** The key for a screen reader, a character at a time, a pause between the groups. */
const spelled = (secret) => grouped(secret).split(" ").map((group) => [...group].join(" ")).join(", ");

/** The app's name for the entry (`Organisation:username (name)`), from the otpauth:// URI. */
function entryName(uri) {
  const path = /^otpauth:\/\/totp\/([^?#]*)/i.exec(uri ?? "")?.[1];
  if (!path) return "";
  try {
    return decodeURIComponent(path);
  } catch {
    return "";
  }
}

/** Draw the key: the groups into `code` (hidden from screen readers, which read `spoken`, the
 *  letters one by one), and make `button` copy it: to the clipboard where the browser allows,
 *  else the text is selected for the user to copy. */
function showKey({ code, spoken, button }, secret, say) {
  code.textContent = grouped(secret);
  spoken.textContent = t("pwreg.app.keySpelled", { letters: spelled(secret) });
  button.onclick = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      say("pwreg.app.copied");
    } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      say("pwreg.app.copySelected");
    }
  };
}

/** The "app" step of pwreg's flow. `ownHolder()` is the session's own holder; `withHolder(h)`
 *  the holders list with h as the API now has it; `sessionEnded(error)` sends to the login. */
export class Enrolment {
  constructor({ flow, ownHolder, withHolder, sessionEnded }) {
    Object.assign(this, { flow, ownHolder, withHolder, sessionEnded });
    // The key being confirmed: in memory only, never in storage (a reload shows the step
    // before it, and a new key is one button away).
    this.key = null;
    this.input = $("#reg-app-code");
    flow.onSubmit($("#reg-app-form"), () => this.confirm());
    $("#reg-app-cancel").addEventListener("click", () => {
      const from = this.key?.from ?? "phone";
      this.forget(); // nothing was saved; the key shown is forgotten
      flow.back(from);
    });
  }

  forget() {
    this.key = null;
  }

  /** Ask the API for a new key for the session's own holder and show it; `from` is the step
   *  that asked (the list or the done step), where Cancel returns. */
  start(from, { again = false } = {}) {
    return once("enrol", async () => {
      const { flow } = this;
      const own = this.ownHolder();
      if (!own) return;
      const asking = flow.current; // where a refusal is said: the list, the done step, or here again
      clearMessages(flow.section(asking));
      let answer;
      try {
        answer = await post(`/registration/holders/${encodeURIComponent(own.id)}/authenticator`, {},
                            flow.data.session);
      } catch (error) {
        if (error.code === "invalid_session") return this.sessionEnded(error);
        return showError(flow.alert(asking), error);
      }
      this.key = { holderId: own.id, from, secret: answer.secret, uri: answer.otpauth_uri, qr: answer.qr_svg,
                   expiresAt: Date.now() + answer.expires_in * 1000 };
      this.input.value = "";
      clearMessages(flow.section("app"));
      flow.show("app", { history: again ? "replace" : "push" });
    });
  }

  draw() {
    const { key } = this;
    const image = qrImage(key.qr, t("pwreg.app.qrAlt"));
    $("#reg-app-qr").replaceChildren(...(image ? [image] : []));
    const entry = entryName(key.uri);
    const entryLine = $("#reg-app-entry");
    entryLine.hidden = !entry;
    if (entry) render(entryLine, "pwreg.app.entry", { entry });
    // On a phone the QR code cannot be scanned by the phone showing it: the otpauth:// link
    // opens the app there instead.
    const link = $("#reg-app-link");
    link.href = key.uri;
    link.hidden = !matchMedia("(pointer: coarse)").matches;
    showKey({ code: $("#reg-app-key"), spoken: $("#reg-app-key-spoken"), button: $("#reg-app-copy") },
            key.secret, (said) => showNotice(this.flow.notice("app"), said));
    render($("#reg-app-expires"), "pwreg.app.expires", { time: formatTime(new Date(key.expiresAt)) });
  }

  // Start again with a new key (this one is dead): said with the API's words, if any.
  startOver(error) {
    const hint = document.createElement("p");
    render(hint, "pwreg.app.startOver");
    showAlert(this.flow.alert("app"), [...(error ? errorParagraphs(error) : []), hint], {
      actions: [actionButton("action.startOver", () => this.start(this.key?.from ?? "phone", { again: true }))],
    });
  }

  async confirm() {
    const { flow, input } = this;
    clearMessages(flow.section("app"));
    const typed = typedCode(input.value, CODE_LENGTH);
    if (typed.length !== CODE_LENGTH || !/^\d+$/.test(typed)) {
      setFieldError(input, typed ? "error.appCodeFormat" : "error.appCodeMissing");
      input.focus();
      return;
    }
    try {
      const answer = await post(
        `/registration/holders/${encodeURIComponent(this.key.holderId)}/authenticator/verify`,
        { code: typed }, flow.data.session);
      const from = this.key.from;
      this.forget();
      input.value = "";
      flow.update({ holders: this.withHolder(answer.holder) });
      // Back where the holder asked for it: the done step ("Steg 4 av 4") or the list. Forward
      // from there never shows the used key again (it is forgotten).
      flow.back(from, { replace: true, then: () => showNotice(flow.notice(from), "pwreg.app.added") });
    } catch (error) {
      if (error.code === "invalid_session") return this.sessionEnded(error);
      if (error.code === "code_expired") return this.startOver(error);
      if (error.code !== "invalid_code") return showError(flow.alert("app"), error);
      setFieldError(input, error, { wrong: "error.appCodeWrong" });
      input.focus();
      input.select();
      if (error.fields.attempts_left === 0) this.startOver();
    }
  }
}
