// What the relying-party scripts (rp.mjs, fapi2_rp.mjs) share: redaction of token values, a
// fetch that records every HTTP exchange for the failure report, and the command-line runner
// that prints one JSON document or, on failure, the error and the exchanges.
const SECRET_KEYS = new Set(['access_token', 'refresh_token', 'id_token', 'code', 'client_secret',
  'client_assertion', 'request_uri']);

export const exchanges = [];

export function redact(value) {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [
      k, SECRET_KEYS.has(k) && typeof v === 'string' ? `<redacted, ${v.length} chars>` : redact(v),
    ]));
  }
  return value;
}

function sentProof(options) {
  const headers = options?.headers;
  if (headers instanceof Headers) return headers.has('dpop');
  return Boolean(headers && Object.keys(headers).some((k) => k.toLowerCase() === 'dpop'));
}

// Records every HTTP exchange openid-client makes (token values redacted).
export async function recordingFetch(url, options) {
  const response = await fetch(url, options);
  const entry = { method: options?.method ?? 'GET', url: String(url).split('?')[0],
                  status: response.status, dpop: sentProof(options) };
  for (const h of ['www-authenticate', 'content-type']) {
    const v = response.headers.get(h);
    if (v) entry[h] = v;
  }
  try {
    const text = await response.clone().text();
    try {
      const json = JSON.parse(text);
      // A discovery document is long: its issuer and the names it lists are enough.
      entry.body = String(url).includes('/.well-known/')
        ? { issuer: json.issuer, keys: Object.keys(json) } : redact(json);
    } catch {
      entry.body = text.length > 600 ? `${text.slice(0, 600)}...` : text;
    }
  } catch (err) {
    entry.body = `<unreadable: ${err}>`;
  }
  exchanges.push(entry);
  return response;
}

function describe(err) {
  const d = { name: err?.name, message: err?.message };
  for (const k of ['code', 'error', 'error_description', 'status']) {
    if (err?.[k] !== undefined) d[k] = err[k];
  }
  let cause = err?.cause;
  if (cause instanceof Response) cause = `<Response ${cause.status}>`;
  else if (cause instanceof Error) cause = describe(cause);
  if (cause !== undefined) d.cause = redact(cause);
  return d;
}

// Runs `steps[command]` ([function, number of arguments]) with the command line's arguments.
export async function run(script, steps, usage) {
  const [command, ...args] = process.argv.slice(2);
  if (!steps[command] || args.length !== steps[command][1]) {
    process.stderr.write(usage);
    process.exit(2);
  }
  try {
    const result = await steps[command][0](args);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (err) {
    process.stderr.write(`${script} ${command} failed:\n${JSON.stringify(describe(err), null, 2)}\n`);
    process.stderr.write(`HTTP exchanges:\n${JSON.stringify(exchanges, null, 2)}\n`);
    if (err?.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  }
}
