// One step per view, with Back, Forward and reload doing the sensible thing.
//
// Each step is a <section data-step> of the page; only the current one is shown. The step is
// kept in history.state (never in the URL), the flow's data (challenge, session, token...) in
// sessionStorage: a reload shows the same step and sends nothing again. A step whose data is
// gone (a used code, an ended session) is never shown; the flow falls back to the nearest
// earlier step it can show. Steps after the first `counted` are asides (pwreg's authenticator
// app): they show no "Steg n av 4", and their title names no step.

import { once } from "./form.js";
import { render, t } from "./i18n.js";

export class Flow {
  constructor({ name, portalKey, steps, counted = steps.length, canShow, enter }) {
    Object.assign(this, { storageKey: `pwportal.${name}`, portalKey, steps, counted, canShow, enter, current: null });
    try {
      this.data = JSON.parse(sessionStorage.getItem(this.storageKey)) ?? {};
    } catch {
      this.data = {};
    }
    window.addEventListener("popstate", (event) => this.show(event.state?.step, { history: "none" }));
    // The forms work with JavaScript only: without it their fields stay disabled, so nothing
    // typed (a password) is ever sent in a URL by the browser's own submit.
    for (const fieldset of document.querySelectorAll("fieldset[data-needs-script]")) fieldset.disabled = false;
  }

  update(patch) {
    this.replaceData({ ...this.data, ...patch });
  }

  replaceData(data) {
    this.data = data;
    try {
      sessionStorage.setItem(this.storageKey, JSON.stringify(data));
    } catch {
      // storage switched off: the flow works, but a reload starts it over
    }
  }

  section(step = this.current) {
    return document.querySelector(`[data-step="${step}"]`);
  }

  alert(step) {
    return this.section(step).querySelector("[data-alert]");
  }

  notice(step) {
    return this.section(step).querySelector("[data-notice]");
  }

  /** A form's Next runs `task(submitter)`, once at a time; `submitter` is the button pressed
   *  (the first one for Enter in a field). */
  onSubmit(form, task) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      once(form.id, () => task(event.submitter));
    });
  }

  /** The step in history.state after a reload, or the first one. */
  start() {
    this.show(history.state?.step, { history: "replace", focus: false });
  }

  /**
   * history: "push" adds an entry (Back returns here); "replace" takes the current one's place
   * (for a step not to go back to, e.g. a used code); "none" after a popstate. The heading
   * gets the focus, so that a screen reader starts reading the new step there.
   */
  show(step, { history: how = "push", focus = true } = {}) {
    let index = Math.max(0, this.steps.indexOf(step));
    while (index > 0 && !this.canShow(this.steps[index], this.data)) index -= 1;
    const target = this.steps[index];
    if (how === "none" && target !== step) how = "replace";
    const previous = this.current;
    for (const section of document.querySelectorAll("[data-step]")) section.hidden = section.dataset.step !== target;
    this.current = target;
    const state = { step: target, previous: how === "push" ? previous : history.state?.previous };
    if (how === "push") history.pushState(state, "");
    else if (how === "replace") history.replaceState(state, "");
    if (index < this.counted) {
      render(this.section().querySelector(".step-count"), "step.count", { n: index + 1, total: this.counted });
    }
    this.enter(target, { from: previous });
    this.drawTitle();
    if (focus) this.section().querySelector("h1").focus();
  }

  /** Back to an earlier step: through history when it is the entry before this one (then
   *  `then()` runs once the step is shown), else as a new entry, or in this one's place with
   *  `replace` (a step not to return to, e.g. a used key). */
  back(step, { replace = false, then } = {}) {
    if (history.state?.previous === step) {
      if (then) window.addEventListener("popstate", () => then(), { once: true }); // after show()'s
      history.back();
    } else {
      this.show(step, { history: replace ? "replace" : "push" });
      then?.();
    }
  }

  drawTitle() {
    const aside = this.steps.indexOf(this.current) >= this.counted;
    document.title = t(aside ? "step.titleAside" : "step.title", {
      heading: this.section().querySelector("[data-heading]").textContent,
      n: this.steps.indexOf(this.current) + 1,
      total: this.counted,
      portal: t(this.portalKey),
    });
  }
}
