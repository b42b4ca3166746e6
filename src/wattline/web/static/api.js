// The public API with the signed-in user's bearer token; nothing else talks to the server.
// Tokens live in sessionStorage: they end with the tab, and no cookie rides along
// on requests a third-party page could make.

const KEY = "wattline.session";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

export function session() {
  const text = sessionStorage.getItem(KEY);
  return text ? JSON.parse(text) : null;
}

function save(tokens) {
  sessionStorage.setItem(KEY, JSON.stringify(tokens));
}

export function forget() {
  sessionStorage.removeItem(KEY);
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, body && body.detail ? body.detail : body);
  return body;
}

export async function login(email, password, code) {
  const body = { email, password };
  if (code) body.code = code;
  const response = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const tokens = await parse(response);
  save(tokens);
  return tokens;
}

let refreshing = null;

async function refresh() {
  const current = session();
  if (!current || !current.refresh_token) throw new ApiError(401, "signed out");
  const response = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: current.refresh_token }),
  });
  save(await parse(response));
}

/** A call to /api/v1{path}; a 401 refreshes the access token once and tries again.
 * ``body`` goes as JSON; ``raw`` (a File or Blob) as the bytes themselves (a firmware image). */
export async function api(path, { method = "GET", body, params, raw } = {}) {
  const url = new URL(`/api/v1${path}`, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const send = () => {
    const headers = { Authorization: `Bearer ${(session() || {}).access_token}` };
    if (raw !== undefined) {
      headers["Content-Type"] = "application/octet-stream";
      return fetch(url, { method, headers, body: raw });
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  };
  let response = await send();
  if (response.status === 401 && session()) {
    refreshing = refreshing || refresh().finally(() => (refreshing = null));
    try {
      await refreshing;
    } catch {
      forget();
      location.hash = "#/login";
      throw new ApiError(401, "your session ended: sign in again");
    }
    response = await send();
  }
  return parse(response);
}

/** Move this session to another of the user's tenants: a new token pair, same tab. */
export async function switchTenant(tenantId) {
  const current = session() || {};
  save(await api("/auth/switch-tenant", { method: "POST", body: { tenant_id: tenantId, refresh_token: current.refresh_token } }));
}

export async function logout() {
  try {
    await api("/auth/logout", { method: "POST" });
  } finally {
    forget();
  }
}
