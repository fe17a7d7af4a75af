// Mobile numbers as people write them in Sweden: +46701234567 is shown as 070-123 45 67.

/** `+46701234567` → `070-123 45 67`; a number from elsewhere is shown as it is. */
export function nationalNumber(e164) {
  const swedishMobile = /^\+467(\d)(\d{3})(\d{2})(\d{2})$/.exec(e164 || "");
  if (!swedishMobile) return e164 || "";
  const [, second, a, b, c] = swedishMobile;
  return `07${second}-${a} ${b} ${c}`;
}

/** What the user typed, as E.164 if it is plainly a Swedish number (the API decides what is
 *  a valid number). */
function asE164(typed) {
  let digits = (typed || "").replace(/[\s\u00a0()\-.]/g, "");
  if (digits.startsWith("00")) digits = `+${digits.slice(2)}`;
  else if (digits.startsWith("0")) digits = `+46${digits.slice(1)}`;
  return digits;
}

/** Only used to notice that the same number was typed again. */
export const sameNumber = (typed, e164) => Boolean(e164) && asE164(typed) === e164;

/** The number typed, said back as people write it (0701234567 → 070-123 45 67), or as typed. */
export function typedNumber(typed) {
  const shown = nationalNumber(asE164(typed));
  return shown.startsWith("07") ? shown : (typed || "").trim();
}
