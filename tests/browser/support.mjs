// What the browser test files share: a call of the gateway's API as a program makes it, to
// set data up before a page is opened and to check what a page did afterwards.

/** `method path` of the gateway at `baseUrl` with `token`: the JSON answer, or an error naming the status. */
export async function api(baseUrl, method, path, token, body) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}
