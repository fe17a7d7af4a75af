// pwreset's "Lås upp kontot" (SPEC 16): when the directory has locked the account (verify's
// `directory_locked`, told only after the right code), the new-password step offers to unlock
// it instead, the password unchanged, beside "Byt lösenord". The unlock uses the reset token,
// as a new password would; its answer is an aside step of its own ("unlocked"), after which
// the flow is over. A dead token starts over as on the password step.

import { post } from "./api.js";
import { clearMessages, once, showError } from "./form.js";
import { render } from "./i18n.js";

const $ = (selector) => document.querySelector(selector);

/** Wires the offer on `flow`'s password step; `startOver(error)` is the page's way back to
 *  step 1. Returns what the page's enter() calls: `draw()` on the password step, `drawDone()`
 *  on the unlocked one. */
export function offerUnlock(flow, { startOver }) {
  $("#reset-unlock-button").addEventListener("click", () => once("unlock", async () => {
    clearMessages(flow.section("password"));
    try {
      const answer = await post("/reset/unlock", { reset_token: flow.data.token });
      flow.replaceData({ unlocked: { username: answer.username } }); // the token is used
      flow.show("unlocked", { history: "replace" });
    } catch (error) {
      if (["token_expired", "invalid_request"].includes(error.code)) startOver(error);
      else showError(flow.alert("password"), error);
    }
  }));
  // "Byt lösenord": the form below is that choice; the focus goes to its first field.
  $("#reset-unlock-change").addEventListener("click", () => $("#reset-password").focus());

  return {
    draw() {
      const locked = flow.data.directoryLocked === true;
      $("#reset-unlock").hidden = !locked;
      if (locked) render($("#reset-unlock-text"), "pwreset.unlock.text", { username: flow.data.tokenUsername });
    },
    drawDone() {
      render($("#reset-unlocked-text"), "pwreset.unlocked.text", { username: flow.data.unlocked.username });
    },
  };
}
