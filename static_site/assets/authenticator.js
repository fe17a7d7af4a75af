// pwreg's enrolment of an authenticator app (SPEC 12), loaded only when a holder starts one:
// the QR code the API drew, taken in as SVG without ever becoming markup, and the key in
// groups of 4, spelled out for screen readers and copyable.

import { t } from "./i18n.js";

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
export function qrImage(svgText, label) {
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
export const grouped = (secret) => secret.replace(/\s+/g, "").match(/.{1,4}/g)?.join(" ") ?? "";

/** The key for a screen reader, a character at a time, a pause between the groups. */
export const spelled = (secret) => grouped(secret).split(" ").map((group) => [...group].join(" ")).join(", ");

/** The app's name for the entry (`Organisation:username (name)`), from the otpauth:// URI. */
export function entryName(uri) {
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
export function showKey({ code, spoken, button }, secret, say) {
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
