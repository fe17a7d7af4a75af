// Mobile numbers as people write them in Sweden: +46701234567 is shown as 070-123 45 67.

/** `+46701234567` → `070-123 45 67`; a number from elsewhere is shown as it is. */
export function nationalNumber(e164) {
  const swedishMobile = /^\+467(\d)(\d{3})(\d{2})(\d{2})$/.exec(e164 || "");
  if (!swedishMobile) return e164 || "";
  const [, second, a, b, c] = swedishMobile;
  return `07${second}-${a} ${b} ${c}`;
}

/** What the user typed, as E.164 if it is plainly a Swedish number; only used to notice that
 *  the same number was typed again (the API decides what is a valid number). */
export function sameNumber(typed, e164) {
  let digits = (typed || "").replace(/[\s\u00a0()\-.]/g, "");
  if (digits.startsWith("00")) digits = `+${digits.slice(2)}`;
  else if (digits.startsWith("0")) digits = `+46${digits.slice(1)}`;
  return Boolean(e164) && digits === e164;
}
