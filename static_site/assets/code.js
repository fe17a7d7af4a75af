// The security-code step both portals share: the code field, the resend button with its
// visible countdown, the phone's own code autofill where the browser has one, and the hint
// of what can be wrong when no code has come 3 minutes after it was sent (SPEC 2 v3): shown
// alike whether an SMS went or not, as the API's answers are alike.

import { announce, setFieldError } from "./form.js";
import { render, t } from "./i18n.js";

/** The code typed or pasted: spaces and dashes dropped, or the first run of `length` digits
 *  in a pasted text such as the whole SMS. */
export function typedCode(raw, length) {
  const compact = raw.replace(/[\s\u00a0-]/g, "");
  if (new RegExp(`^\\d{${length}}$`).test(compact)) return compact;
  return raw.match(new RegExp(`(?<!\\d)\\d{${length}}(?!\\d)`))?.[0] ?? compact;
}

// The SMS may take up to 3 minutes (the code step says so); after that, something else is wrong.
const NO_CODE_AFTER_MS = 3 * 60 * 1000;

export class CodeField {
  constructor(section, codeLength) {
    this.input = section.querySelector("input.code");
    this.resendButton = section.querySelector("[data-resend]");
    this.wait = section.querySelector("[data-resend-wait]");
    this.noCode = section.querySelector("[data-no-code]");
    this.useSms(codeLength);
  }

  /** The codes typed are an SMS's (`length` digits), or an authenticator app's (always 6):
   *  what a missing or short code is told in words says which. */
  useSms(length) {
    Object.assign(this, { codeLength: length, missing: "error.codeMissing", format: "error.codeFormat" });
  }

  useApp() {
    Object.assign(this, { codeLength: 6, missing: "error.appCodeMissing", format: "error.appCodeFormat" });
  }

  /** The step is shown: count down to `resendAt` (ms since the epoch), listen for the SMS,
   *  and 3 minutes after `sentAt` say what can be wrong (`hint`: {key, params}). */
  enter(resendAt, { sentAt, hint } = {}) {
    this.countDownTo(resendAt);
    this.listenForSms();
    this.hintAfter(sentAt, hint);
  }

  leave() {
    clearInterval(this.timer);
    this.autofill?.abort();
    this.hintAfter(null);
  }

  /** A new code was sent at `sentAt`: the hint waits 3 minutes from then (none without it). */
  hintAfter(sentAt, hint) {
    clearTimeout(this.hintTimer);
    this.noCode.replaceChildren();
    if (!sentAt || !hint) return;
    const show = () => {
      const p = document.createElement("p");
      render(p, hint.key, hint.params);
      this.noCode.replaceChildren(p);
    };
    const wait = sentAt + NO_CODE_AFTER_MS - Date.now();
    if (wait <= 0) show();
    else this.hintTimer = setTimeout(show, wait);
  }

  countDownTo(resendAt) {
    clearInterval(this.timer);
    let waited = false;
    const tick = () => {
      const seconds = Math.ceil((resendAt - Date.now()) / 1000);
      this.resendButton.disabled = seconds > 0;
      if (seconds > 0) {
        waited = true;
        return render(this.wait, "code.resendIn", { seconds });
      }
      clearInterval(this.timer);
      render(this.wait, "code.resendReady");
      if (waited) announce(t("code.resendNowPossible"));
    };
    tick();
    if (this.resendButton.disabled) this.timer = setInterval(tick, 1000);
  }

  // The typed code, or null after the field has said what is wrong with it.
  take() {
    const { code, problem } = this.read();
    if (!problem) return code;
    setFieldError(this.input, problem);
    this.input.focus();
    return null;
  }

  /** {code}, or {problem}: the text key of what is wrong before anything is sent. */
  read() {
    const code = typedCode(this.input.value, this.codeLength);
    if (!code) return { problem: this.missing };
    return /^\d+$/.test(code) && code.length === this.codeLength ? { code } : { problem: this.format };
  }

  clear() {
    this.input.value = "";
  }

  // Android fills the code in through WebOTP (the SMS ends "@host #code"), iPhone through
  // autocomplete="one-time-code". Where neither is there, nothing happens.
  listenForSms() {
    if (!("OTPCredential" in window)) return;
    this.autofill?.abort();
    this.autofill = new AbortController();
    navigator.credentials.get({ otp: { transport: ["sms"] }, signal: this.autofill.signal })
      .then((otp) => { if (otp?.code && !this.input.value) this.input.value = otp.code; })
      .catch(() => {});
  }
}
