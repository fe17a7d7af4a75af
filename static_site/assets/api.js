// The API on the same origin (SPEC 8): JSON in and out, the page's language in
// Accept-Language, and every failure as one ApiError, whether the API answered with its
// error envelope, answered something else, or could not be reached at all.

import { language } from "./i18n.js";

export class ApiError extends Error {
  constructor({ status, code, message = "", fields = {}, lang }) {
    super(code);
    this.status = status; // 0 when the API could not be reached
    this.code = code;
    this.apiMessage = message; // the API's own text, in `lang`; empty if it sent none
    this.fields = fields; // attempts_left, retry_after, violations, support ...
    this.lang = lang;
  }
}

// The portals send no cookie (`omit`); the support console sends its session cookie
// (`same-origin`) and its own header with every change (support/console.js).
export async function call(method, path, { body, session, headers: extra = {}, credentials = "omit" } = {}) {
  const lang = language();
  const headers = { Accept: "application/json", "Accept-Language": lang, ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (session) headers.Authorization = `Bearer ${session}`;
  let response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials,
    });
  } catch {
    throw new ApiError({ status: 0, code: "network", lang });
  }
  let json = null;
  if (response.status !== 204) {
    try {
      json = await response.json();
    } catch {
      json = null; // e.g. a proxy's HTML error page
    }
  }
  if (response.ok) return json ?? {};
  const error = json && typeof json.error === "object" && json.error ? json.error : null;
  if (!error) {
    throw new ApiError({ status: response.status,
                         code: response.status >= 500 ? "service_unavailable" : "unexpected", lang });
  }
  const { code, message, ...fields } = error;
  if (fields.retry_after === undefined && response.headers.get("Retry-After")) {
    fields.retry_after = Number(response.headers.get("Retry-After")) || undefined;
  }
  throw new ApiError({ status: response.status, code: String(code || "unexpected"),
                       message: typeof message === "string" ? message : "", fields, lang });
}

export const post = (path, body, session) => call("POST", path, { body: body ?? {}, session });
