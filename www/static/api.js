// api.js: the only module that talks to the server.  Everything goes to the
// control origin (the CSP's connect-src 'self'); the token lives in this
// origin's localStorage and is sent as a Bearer header, never as a cookie.

const TOKEN_KEY = 'slipway.token';
const EXPIRES_KEY = 'slipway.expires_at';

export class ApiError extends Error {
	constructor(status, detail, code) {
		super(detail);
		this.status = status;
		this.detail = detail;
		this.code = code || '';
	}
}

let unauthorizedHandler = () => {};

/* Called with no argument whenever the server answers 401 to a request that
 * carried our token: the session is over. */
export function onUnauthorized(fn) {
	unauthorizedHandler = fn;
}

export const session = {
	get token() {
		const t = localStorage.getItem(TOKEN_KEY);
		const exp = Number(localStorage.getItem(EXPIRES_KEY) || 0);
		if (t && exp && exp * 1000 <= Date.now()) {
			this.clear();
			return null;
		}
		return t;
	},
	set(token, expiresAt) {
		localStorage.setItem(TOKEN_KEY, token);
		localStorage.setItem(EXPIRES_KEY, String(expiresAt || 0));
	},
	clear() {
		localStorage.removeItem(TOKEN_KEY);
		localStorage.removeItem(EXPIRES_KEY);
	},
};

function authHeaders(extra) {
	const headers = Object.assign({ Accept: 'application/json' }, extra || {});
	const t = session.token;
	if (t)
		headers.Authorization = 'Bearer ' + t;
	return headers;
}

/* Turn an error answer ({"detail","code"} or anything else) into an ApiError. */
function errorFrom(status, text, statusText) {
	let detail = '', code = '';
	try {
		const j = JSON.parse(text);
		if (j && typeof j.detail === 'string')
			detail = j.detail;
		else if (j && Array.isArray(j.detail))	/* FastAPI-style lists */
			detail = j.detail.map((d) => (d && d.msg) || String(d)).join('; ');
		if (j && typeof j.code === 'string')
			code = j.code;
	} catch (e) { /* not JSON: fall through */ }
	if (!detail)
		detail = status === 413 ? 'The file is too large for this server.' :
		    `The server answered ${status}${statusText ? ' ' + statusText : ''}.`;
	return new ApiError(status, detail, code);
}

function handle401(status, hadToken) {
	if (status === 401 && hadToken) {
		session.clear();
		unauthorizedHandler();
	}
}

/*
 * api(method, path, {json, form, query, signal}) → parsed JSON, text, or
 * null for 204.  Throws ApiError (status 0 for network failures).
 */
export async function api(method, path, opts = {}) {
	const hadToken = !!session.token;
	let url = path;
	if (opts.query) {
		const q = new URLSearchParams();
		for (const [k, v] of Object.entries(opts.query))
			if (v !== undefined && v !== null && v !== '')
				q.set(k, String(v));
		const s = q.toString();
		if (s)
			url += (url.includes('?') ? '&' : '?') + s;
	}
	const init = { method, headers: authHeaders(), cache: 'no-store',
	    credentials: 'omit', redirect: 'error', signal: opts.signal };
	if (opts.json !== undefined) {
		init.headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(opts.json);
	} else if (opts.form !== undefined) {
		init.body = opts.form;	/* FormData: the browser sets the boundary */
	}
	let res;
	try {
		res = await fetch(url, init);
	} catch (e) {
		if (e.name === 'AbortError')
			throw e;
		throw new ApiError(0, 'Cannot reach the server. Check your connection.', 'network');
	}
	if (res.status === 204)
		return null;
	const text = await res.text();
	if (!res.ok) {
		handle401(res.status, hadToken);
		throw errorFrom(res.status, text, res.statusText);
	}
	const ct = res.headers.get('Content-Type') || '';
	if (ct.includes('json')) {
		try {
			return JSON.parse(text);
		} catch (e) {
			throw new ApiError(res.status, 'The server sent malformed JSON.', 'bad_json');
		}
	}
	return text;
}

/*
 * upload(path, formData, {onProgress(loaded, total), signal}) → parsed JSON.
 * XMLHttpRequest, because fetch reports no upload progress.
 */
export function upload(path, formData, opts = {}) {
	return new Promise((resolve, reject) => {
		const hadToken = !!session.token;
		const xhr = new XMLHttpRequest();
		const progress = opts.onProgress || (() => {});
		xhr.open('POST', path);
		for (const [k, v] of Object.entries(authHeaders()))
			xhr.setRequestHeader(k, v);
		/* Listeners on xhr.upload must exist before send(). */
		xhr.upload.addEventListener('progress', (e) => {
			progress(e.loaded, e.lengthComputable ? e.total : 0);
		});
		xhr.upload.addEventListener('load', (e) => {
			progress(e.loaded, e.lengthComputable ? e.total : e.loaded);
		});
		xhr.addEventListener('load', () => {
			if (xhr.status >= 200 && xhr.status < 300) {
				try {
					resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null);
				} catch (e) {
					reject(new ApiError(xhr.status, 'The server sent malformed JSON.', 'bad_json'));
				}
				return;
			}
			handle401(xhr.status, hadToken);
			reject(errorFrom(xhr.status, xhr.responseText, xhr.statusText));
		});
		xhr.addEventListener('error', () => reject(new ApiError(0,
		    'The upload failed: the connection was lost.', 'network')));
		xhr.addEventListener('abort', () => reject(new ApiError(0,
		    'Upload cancelled.', 'aborted')));
		xhr.addEventListener('timeout', () => reject(new ApiError(0,
		    'The upload timed out.', 'timeout')));
		if (opts.signal) {
			if (opts.signal.aborted) {
				reject(new ApiError(0, 'Upload cancelled.', 'aborted'));
				return;
			}
			opts.signal.addEventListener('abort', () => xhr.abort());
		}
		xhr.send(formData);
	});
}

/*
 * follow(path, {onText(str), signal}) → resolves when the stream ends.
 * fetch + ReadableStream so the log arrives as the server writes it.
 */
export async function follow(path, opts) {
	const hadToken = !!session.token;
	let res;
	try {
		res = await fetch(path, { headers: authHeaders({ Accept: 'text/plain' }),
		    cache: 'no-store', credentials: 'omit', signal: opts.signal });
	} catch (e) {
		if (e.name === 'AbortError')
			throw e;
		throw new ApiError(0, 'Cannot reach the server. Check your connection.', 'network');
	}
	if (!res.ok) {
		const text = await res.text();
		handle401(res.status, hadToken);
		throw errorFrom(res.status, text, res.statusText);
	}
	const decoder = new TextDecoder('utf-8');
	if (!res.body) {
		opts.onText(await res.text());
		return;
	}
	const reader = res.body.getReader();
	for (;;) {
		const { value, done } = await reader.read();
		if (done)
			break;
		const s = decoder.decode(value, { stream: true });
		if (s)
			opts.onText(s);
	}
	const rest = decoder.decode();
	if (rest)
		opts.onText(rest);
}
