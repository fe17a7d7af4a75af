// The password rules (SPEC 3) from GET /api/config: shown before typing, checked while typing
// with a state per rule that is seen (icon, colour) and heard (a word in each rule, and a
// short announcement of what changed), and the API's rejection shown at each rule it broke:
// its item marked, and the rule named in the field's own error (brokenParts).
// History, common passwords, banned words, the characters a password directory refuses
// (SASLprep) and passwords known from breaches (SPEC 16) only the API can check; the list
// says so.

import { hasText, render, t } from "./i18n.js";
import { announce } from "./form.js";

const KINDS = ["upper", "lower", "digit", "special"];
// "common_word" is told apart before typing; the API names it rule "common" (SPEC 3) with
// reason "common_word", and the page marks that item.
const SERVER_RULES = ["reused", "common", "common_word", "banned_word", "invalid_characters", "breached"];
const LOCAL_RULES = ["length", "classes", "username"];
// The API's rule names and the item of the list that stands for each.
const ITEM_OF_RULE = { min_length: "length", max_length: "length", contains_username: "username" };

/** What the page can check, counted as the API counts: code points after NFC; upper, lower
 *  and digits ASCII only; special = the policy's punctuation; the username in any case. */
export function checkPassword(password, policy, username) {
  const text = password.normalize("NFC");
  const length = [...text].length;
  const kinds = {
    upper: /[A-Z]/.test(text),
    lower: /[a-z]/.test(text),
    digit: /[0-9]/.test(text),
    special: [...text].some((c) => policy.special_characters.includes(c)),
  };
  const count = KINDS.filter((kind) => kinds[kind]).length;
  return {
    length: length >= policy.min_length && length <= policy.max_length,
    classes: count >= policy.min_classes,
    username: !policy.forbid_username || !username || !text.toLowerCase().includes(username.toLowerCase()),
    kinds,
    count,
  };
}

function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

export class PasswordRules {
  constructor({ list, password, again, policy }) {
    Object.assign(this, { list, password, again, policy, username: "" });
    this.rejected = null; // {password, violations, lang}: the API's verdict on that password
    this.showBroken = false; // after a Next with rules unmet: mark them, not only grey them
    this.heard = {}; // the states last announced
    const changed = () => {
      this.showBroken = false;
      this.update();
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.announceChanges(), 1000);
    };
    password.addEventListener("input", changed);
    again.addEventListener("input", changed);
  }

  /** (Re)build the list for an account. */
  draw(username) {
    this.username = username;
    const classes = this.item("classes", "password.rule.classes");
    classes.querySelector(".rule-text").after(" ", element("span", "rule-count"));
    const kinds = element("ul", "");
    kinds.append(...KINDS.map((kind) => this.item(`class-${kind}`, `password.class.${kind}`)));
    classes.append(kinds);
    this.list.replaceChildren(
      this.item("length", "password.rule.length"),
      classes,
      ...(this.policy.forbid_username ? [this.item("username", "password.rule.username", { username })] : []),
      ...SERVER_RULES.map((name) => this.item(name, `password.rule.${name}`, {}, true)),
      this.item("match", "password.rule.match"),
    );
    this.heard = {};
    this.update();
  }

  item(name, key, params = {}, byServer = false) {
    const li = element("li", "rule", { "data-rule": name });
    const text = element("span", "rule-text");
    render(text, key, params);
    li.append(element("span", "rule-icon", { "aria-hidden": "true" }), text);
    if (byServer) {
      const note = element("span", "rule-note muted");
      render(note, "password.serverNote");
      li.append(" ", note);
    }
    li.append(element("span", "visually-hidden rule-state"));
    return li;
  }

  /** Each rule the page checks: pending (nothing typed), met or unmet. */
  states() {
    const value = this.password.value;
    const result = checkPassword(value, this.policy, this.username);
    const states = { count: result.count };
    for (const name of LOCAL_RULES) states[name] = value === "" ? "pending" : result[name] ? "met" : "unmet";
    for (const kind of KINDS) states[`class-${kind}`] = result.kinds[kind] ? "met" : "pending";
    const again = this.again.value;
    // Still typing the second one (so far the same): not yet; typed differently: broken.
    states.match = again === "" ? "pending" : again === value ? "met" : value.startsWith(again) ? "unmet" : "broken";
    return states;
  }

  update() {
    if (this.rejected?.password !== this.password.value) this.rejected = null;
    const states = this.states();
    const broken = new Map();
    for (const { rule, reason, message } of this.rejected?.violations ?? []) {
      const name = reason ?? ITEM_OF_RULE[rule] ?? rule;
      // A rule the list has no item for (e.g. the directory's own) gets one, in the API's words;
      // a rule it has is marked broken, and said once, by its item.
      if (!this.list.querySelector(`[data-rule="${name}"]`)) {
        const added = this.item(name, message);
        added.lang = this.rejected.lang;
        this.list.lastElementChild.before(added);
      }
      broken.set(name, message);
    }
    for (const li of this.list.querySelectorAll("li")) {
      const name = li.dataset.rule;
      let state = states[name] ?? "server";
      if (broken.has(name) || state === "broken") state = "broken";
      else if (this.showBroken && LOCAL_RULES.concat("match").includes(name) && state !== "met") state = "broken";
      for (const shown of ["met", "broken", "server"]) li.classList.toggle(`is-${shown}`, state === shown);
      li.dataset.state = state;
      li.querySelector(":scope > .rule-state").textContent =
        state === "server" ? "" : `: ${t(`password.state.${state === "pending" ? "unmet" : state}`)}`;
    }
    const counter = this.list.querySelector(".rule-count");
    if (this.password.value) render(counter, "password.rule.classesCount", { count: states.count });
    else counter.replaceChildren();
  }

  announceChanges() {
    const states = this.states();
    const names = [...LOCAL_RULES, "match"].filter((name) => this.list.querySelector(`[data-rule="${name}"]`));
    const label = (name) => this.list.querySelector(`[data-rule="${name}"] > .rule-text`).textContent.replace(/:$/, "");
    const met = names.filter((name) => states[name] === "met" && this.heard[name] !== "met");
    const lost = names.filter((name) => states[name] !== "met" && this.heard[name] === "met");
    this.heard = states;
    const parts = [];
    if (met.length) parts.push(t("password.announceMet", { rules: met.map(label).join(", ") }));
    if (lost.length) parts.push(t("password.announceUnmet", { rules: lost.map(label).join(", ") }));
    if (met.length && names.every((name) => states[name] === "met")) parts.push(t("password.announceAll"));
    if (parts.length) announce(parts.join(" "));
  }

  /** What is wrong before sending: "rules" (one is unmet), "again" (empty), "mismatch". */
  problems() {
    const states = this.states();
    const problems = LOCAL_RULES.some((name) => states[name] !== "met") ? ["rules"] : [];
    if (states.match === "pending") problems.push("again");
    else if (states.match !== "met") problems.push("mismatch");
    return problems;
  }

  markUnmet() {
    this.showBroken = true;
    this.update();
  }

  /** The API's 422: every broken rule marked, with the API's message at it. */
  reject(violations, lang) {
    this.rejected = { password: this.password.value, violations, lang };
    this.update();
  }

  /** The field's own error (SPEC 2 v3): `lead` ("… Det ska") and every rule now marked broken,
   *  by name, so that it is read without scrolling down to the list (on a phone the list is
   *  below the fold). Parts for setFieldError: each drawn again in another language. */
  brokenParts(lead) {
    const broken = [...this.list.querySelectorAll("li.is-broken")];
    const parts = broken.map((li) => {
      const name = li.dataset.rule;
      const key = [`password.broken.${name}`, `password.rule.${name}`].find(hasText);
      const message = this.rejected?.violations.find((v) => (v.reason ?? ITEM_OF_RULE[v.rule] ?? v.rule) === name);
      if (key) return { key, params: { username: this.username } };
      return { text: (message?.message ?? name).replace(/\.$/, ""), lang: this.rejected?.lang };
    });
    parts.forEach((part, i) => {
      if (i < parts.length - 2) part.after = ",";
    });
    if (parts.length > 1) parts.splice(parts.length - 1, 0, { key: "site.and" });
    if (parts.length) parts.at(-1).after = ".";
    return [{ key: lead }, ...parts];
  }
}
