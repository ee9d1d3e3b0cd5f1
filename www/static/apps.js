// apps.js: "My apps": the list with live status, the create form with a
// real upload progress bar, and every per-app action.

import { api, upload } from './api.js';
import { h, icon, button, field, toast, errorToast, announce, formDialog,
    confirmDialog, bytes, timeEl, safeUrl } from './dom.js';
import { openLogs } from './logs.js';

export const STATES = ['uploaded', 'queued', 'building', 'starting', 'running',
    'stopping', 'stopped', 'error', 'finished', 'deleting'];
const TRANSITIONAL = new Set(['uploaded', 'queued', 'building', 'starting', 'stopping', 'deleting']);
const CAN_STOP = new Set(['uploaded', 'queued', 'building', 'starting', 'running']);
const CAN_START = new Set(['stopped', 'error', 'finished']);
const CAN_RESTART = new Set(['running', 'stopped', 'error', 'finished']);
const STATE_TEXT = {
	uploaded: 'Uploaded', queued: 'Queued', building: 'Building', starting: 'Starting',
	running: 'Running', stopping: 'Stopping', stopped: 'Stopped', error: 'Error',
	finished: 'Finished', deleting: 'Deleting',
};
const APP_NAME_RE = '[a-z0-9][a-z0-9_\\-]{0,62}';
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/* Polling cadence: quick while something moves, slow when all is steady,
 * backing off on errors, paused while the tab is hidden. */
const POLL_FAST_MS = 2000;
const POLL_SLOW_MS = 10000;
const POLL_MAX_BACKOFF_MS = 60000;

export function appId(app) {
	return String(app.app_id || app.id);
}

/* ---- where apps are served: a different origin (the apps site) ---- */

const endpoints = new Map();	/* "/apps/<id>/" → absolute endpoint */
let appsOrigin = null;
let endpointsFetchedAt = 0;

async function refreshEndpoints(apps) {
	const missing = apps.some((a) => a.status === 'running' && !a.endpoint &&
	    !endpoints.has(appPath(a)));
	if (!missing || Date.now() - endpointsFetchedAt < 15000)
		return false;
	endpointsFetchedAt = Date.now();
	try {
		const r = await api('GET', '/containers', { query: { page_size: 100 } });
		for (const c of (r && r.results) || []) {
			if (!c || typeof c.endpoint !== 'string')
				continue;
			try {
				const u = new URL(c.endpoint);
				if (u.protocol !== 'http:' && u.protocol !== 'https:')
					continue;
				endpoints.set(u.pathname, u.href);
				appsOrigin = u.origin;
			} catch (e) { /* skip a malformed endpoint */ }
		}
		return true;
	} catch (e) {
		return false;	/* fall back below */
	}
}

function appPath(app) {
	const u = typeof app.url === 'string' && app.url.startsWith('/apps/') ? app.url :
	    `/apps/${encodeURIComponent(appId(app))}/`;
	return u.endsWith('/') ? u : u + '/';
}

export function appLink(app) {
	if (typeof app.endpoint === 'string' && safeUrl(app.endpoint) && !app.endpoint.startsWith('/'))
		return app.endpoint;
	const path = appPath(app);
	if (endpoints.has(path))
		return endpoints.get(path);
	const origin = appsOrigin || `${location.protocol}//${location.hostname}:8080`;
	return origin + path;
}

/* ---- the view ---- */

export function renderApps(main, ctx, opts = {}) {
	const isAdmin = ctx.user && ctx.user.is_admin;
	let timer = null;
	let failures = 0;
	let stopped = false;
	let inflight = null;
	let prev = null;	/* id → status, for announcements */
	let lastApps = [];
	const cards = new Map();	/* id → {key, el} */

	const list = h('ul', { class: 'app-list', id: 'app-list', 'aria-label': 'Apps' });
	const empty = h('p', { class: 'empty', id: 'apps-empty', hidden: true },
	    'No apps yet. Use “New app” to upload one, or deploy a template.');
	const syncNote = h('p', { class: 'sync-note', id: 'apps-sync' });
	const createPanel = h('section', { class: 'card create-panel', id: 'create-panel',
	    'aria-labelledby': 'create-title', hidden: !opts.create });
	const toggle = button('New app', { id: 'btn-new-app', class: 'primary',
	    'aria-expanded': opts.create ? 'true' : 'false', 'aria-controls': 'create-panel' }, 'plus');

	toggle.addEventListener('click', () => {
		const open = createPanel.hidden;
		createPanel.hidden = !open;
		toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
		if (open)
			createPanel.querySelector('input, textarea, select').focus();
	});

	const created = createForm({
		onUploaded: (r) => {
			failures = 0;
			/* Fold the form; the upload result stays above the list. */
			createPanel.hidden = true;
			toggle.setAttribute('aria-expanded', 'false');
			created.progressBox.focus();
			pollNow();
			if (r && r.name)
				announce(`App ${r.name} uploaded and queued.`);
		},
		onCancel: () => {
			createPanel.hidden = true;
			toggle.setAttribute('aria-expanded', 'false');
			toggle.focus();
		},
	});
	createPanel.appendChild(created.form);

	main.appendChild(h('section', { class: 'view', 'aria-labelledby': 'apps-title' },
	    h('div', { class: 'view-head' },
		h('h1', { id: 'apps-title', tabindex: '-1' }, isAdmin ? 'All apps' : 'My apps'),
		h('div', { class: 'view-tools' },
		    button('Refresh', { id: 'btn-refresh', class: 'ghost',
			onclick: () => { failures = 0; pollNow(); } }, 'refresh'),
		    toggle)),
	    createPanel,
	    created.progressBox,
	    syncNote,
	    empty,
	    list));

	function schedule() {
		clearTimeout(timer);
		timer = null;
		if (stopped)
			return;
		if (document.hidden) {
			syncNote.textContent = 'Updates paused while this tab is hidden.';
			return;	/* visibilitychange resumes */
		}
		let ms;
		if (failures > 0)
			ms = Math.min(POLL_MAX_BACKOFF_MS, POLL_FAST_MS * 2 ** failures);
		else
			ms = lastApps.some((a) => TRANSITIONAL.has(a.status)) ? POLL_FAST_MS : POLL_SLOW_MS;
		timer = setTimeout(poll, ms);
	}

	async function poll() {
		if (stopped || inflight)
			return;
		if (document.hidden) {
			schedule();
			return;
		}
		const ctl = new AbortController();
		inflight = ctl;
		try {
			const apps = await api('GET', '/status', { signal: ctl.signal });
			if (stopped)
				return;
			failures = 0;
			lastApps = Array.isArray(apps) ? apps : [];
			if (await refreshEndpoints(lastApps) && stopped)
				return;
			render(lastApps);
			syncNote.textContent = 'Updated ' + new Date().toLocaleTimeString() + '.';
		} catch (e) {
			if (stopped || e.name === 'AbortError')
				return;
			failures++;
			const wait = Math.round(Math.min(POLL_MAX_BACKOFF_MS, POLL_FAST_MS * 2 ** failures) / 1000);
			syncNote.textContent = `Could not update the list (${e.detail || e.message}). Retrying in ${wait} s.`;
			if (failures === 1)
				errorToast(e, 'Loading apps');
		} finally {
			if (inflight === ctl)
				inflight = null;
			schedule();
		}
	}

	function pollNow() {
		clearTimeout(timer);
		if (inflight)
			return;
		poll();
	}

	function render(apps) {
		apps = apps.slice().sort((a, b) => String(b.created_at || '').localeCompare(String(a.created_at || '')) ||
		    String(a.name).localeCompare(String(b.name)));
		const seen = new Set();
		const next = new Map();
		for (const app of apps)
			next.set(appId(app), app.status);
		if (prev) {
			for (const app of apps) {
				const was = prev.get(appId(app));
				if (was && was !== app.status)
					announce(`${app.name}: ${STATE_TEXT[app.status] || app.status}` +
					    (app.status === 'error' && app.status_detail ? ` (${app.status_detail})` : ''));
			}
		}
		prev = next;
		let before = null;
		for (let i = apps.length - 1; i >= 0; i--) {
			const app = apps[i];
			const id = appId(app);
			seen.add(id);
			const link = app.status === 'running' ? appLink(app) : '';
			const key = JSON.stringify(app) + '\n' + link;
			let entry = cards.get(id);
			if (!entry || entry.key !== key) {
				const el = h('li', { class: 'app-item', dataset: { appId: id } },
				    appCard(app, link, isAdmin, actions));
				if (entry) {
					const focused = entry.el.contains(document.activeElement) ?
					    document.activeElement.dataset.action : null;
					entry.el.replaceWith(el);
					if (focused) {
						const again = el.querySelector(`[data-action="${focused}"]`) ||
						    el.querySelector('[data-action]');
						if (again)
							again.focus();
					}
				}
				entry = { key, el };
				cards.set(id, entry);
			}
			/* Keep DOM order = sorted order, moving only what is out of place. */
			if (before === null) {
				if (list.lastElementChild !== entry.el)
					list.appendChild(entry.el);
			} else if (entry.el.nextElementSibling !== before) {
				list.insertBefore(entry.el, before);
			}
			before = entry.el;
		}
		for (const [id, entry] of cards) {
			if (!seen.has(id)) {
				entry.el.remove();
				cards.delete(id);
			}
		}
		empty.hidden = apps.length > 0;
	}

	const actions = {
		async stop(app) {
			await act(app, 'POST', `/stop/${encodeURIComponent(appId(app))}`, `Stopping ${app.name}.`);
		},
		async start(app) {
			await act(app, 'POST', `/start/${encodeURIComponent(appId(app))}`, `Starting ${app.name}.`);
		},
		async restart(app) {
			await act(app, 'POST', `/restart/${encodeURIComponent(appId(app))}`, `Restarting ${app.name}.`);
		},
		logs(app) {
			openLogs(app);
		},
		async edit(app) {
			const r = await editAppDialog(app);
			if (r) {
				toast(`Saved ${r.name || app.name}.`);
				pollNow();
			}
		},
		async template(app) {
			const r = await saveTemplateDialog(app);
			if (r)
				toast(`Saved template ${r}. Find it under Templates.`);
		},
		async remove(app) {
			const yes = await confirmDialog(`Delete ${app.name}?`,
			    'This stops the app and removes its container, image, files, route and log. It cannot be undone.',
			    'Delete app');
			if (!yes)
				return;
			try {
				await api('DELETE', `/apps/${encodeURIComponent(appId(app))}`);
				toast(`Deleted ${app.name}.`);
				announce(`${app.name} deleted.`);
				lastApps = lastApps.filter((a) => appId(a) !== appId(app));
				render(lastApps);
			} catch (e) {
				errorToast(e, `Deleting ${app.name}`);
			}
			pollNow();
		},
	};

	const busy = new Set();	/* no double submits of one action */
	async function act(app, method, path, message) {
		if (busy.has(path))
			return;
		busy.add(path);
		try {
			await api(method, path);
			toast(message);
			failures = 0;
		} catch (e) {
			errorToast(e, app.name);
		} finally {
			busy.delete(path);
		}
		pollNow();
	}

	function onVisibility() {
		if (!document.hidden && !stopped) {
			failures = 0;
			pollNow();
		}
	}
	document.addEventListener('visibilitychange', onVisibility);
	poll();

	return () => {
		stopped = true;
		clearTimeout(timer);
		if (inflight)
			inflight.abort();
		document.removeEventListener('visibilitychange', onVisibility);
	};
}

/* One card outside the live list (the browser test renders every state). */
export function renderAppCard(app, isAdmin = false) {
	const noop = () => {};
	return appCard(app, app.status === 'running' ? appLink(app) : '', isAdmin,
	    { stop: noop, start: noop, restart: noop, logs: noop, edit: noop, template: noop, remove: noop });
}

function badge(status) {
	const s = STATES.includes(status) ? status : 'unknown';
	return h('span', { class: ['badge', 'st-' + s, TRANSITIONAL.has(s) ? 'moving' : null],
	    dataset: { status: String(status) } }, STATE_TEXT[status] || String(status));
}

function metaRow(term, ...desc) {
	return [h('dt', null, term), h('dd', null, ...desc)];
}

function appCard(app, link, isAdmin, actions) {
	const id = appId(app);
	const nameId = 'app-' + id + '-name';
	const st = app.status;
	const reasonId = 'app-' + id + '-reason';
	const gpus = Array.isArray(app.gpus) && app.gpus.length ? app.gpus.map((g) => 'GPU ' + g).join(', ') : 'none';
	const ips = Array.isArray(app.allow_ips) ? app.allow_ips.join(', ') :
	    (typeof app.allow_ips === 'string' ? app.allow_ips : '');
	const btn = (label, action, iconName, extra) => button(label, Object.assign({
		class: 'small', dataset: { action },
		'aria-label': `${label} ${app.name}`,
		onclick: () => actions[action](app),
	}, extra || {}), iconName);

	const acts = [];
	if (st === 'running' && link)
		acts.push(h('a', { class: ['button', 'small', 'primary'], href: link, target: '_blank',
		    rel: 'noopener noreferrer', dataset: { action: 'open' }, 'aria-label': `Open ${app.name} (new tab)` },
		    icon('open'), h('span', null, 'Open')));
	acts.push(btn('Logs', 'logs', 'logs'));
	if (CAN_STOP.has(st))
		acts.push(btn('Stop', 'stop', 'stop'));
	if (CAN_START.has(st))
		acts.push(btn('Start', 'start', 'play'));
	if (CAN_RESTART.has(st))
		acts.push(btn('Restart', 'restart', 'restart'));
	if (st !== 'deleting') {
		acts.push(btn('Edit', 'edit', 'edit'));
		acts.push(btn('Save as template', 'template', 'save'));
	}
	acts.push(btn('Delete', 'remove', 'trash', { class: 'small danger-ghost' }));

	return h('article', { class: ['card', 'app-card', 'status-' + st], 'aria-labelledby': nameId,
	    'aria-describedby': st === 'error' && app.status_detail ? reasonId : null },
	    h('header', { class: 'app-head' },
		h('h2', { id: nameId, class: 'app-name' }, app.name),
		badge(st)),
	    app.description ? h('p', { class: 'app-desc' }, app.description) : null,
	    app.status_detail ? h('p', { id: reasonId, class: st === 'error' ? 'reason' : 'detail' },
		st === 'error' ? h('strong', null, 'Reason: ') : null, app.status_detail) : null,
	    h('dl', { class: 'meta' },
		st === 'running' && link ? metaRow('URL', h('a', { href: link, target: '_blank',
		    rel: 'noopener noreferrer', class: 'app-url' }, link)) : null,
		metaRow('Type', app.type || '—'),
		metaRow('GPUs', gpus),
		app.vram_required ? metaRow('VRAM', `${app.vram_required} MiB`) : null,
		ips ? metaRow('Allowed IPs', ips) : null,
		app.has_auth_header ? metaRow('Access', 'Authorization required') : null,
		isAdmin && app.owner !== undefined ? metaRow('Owner', String(app.owner)) : null,
		metaRow('Created', timeEl(app.created_at))),
	    h('div', { class: 'actions', role: 'group', 'aria-label': `Actions for ${app.name}` }, acts));
}

/* ---- dialogs for one app ---- */

function editAppDialog(app) {
	const ips = Array.isArray(app.allow_ips) ? app.allow_ips.join(', ') : (app.allow_ips || '');
	const fields = [
		field('Name', { name: 'name', value: app.name, required: true, pattern: APP_NAME_RE,
		    maxlength: 63, autocapitalize: 'none', spellcheck: 'false' },
		    'Lowercase letters, digits, “_” and “-”.'),
		field('Description', { tag: 'textarea', name: 'description', rows: 3, maxlength: 1024,
		    value: app.description || '' }),
		field('Allowed IPs', { name: 'allow_ips', value: ips, autocomplete: 'off', spellcheck: 'false' },
		    'Comma separated addresses or networks (e.g. 10.0.0.0/8, 2001:db8::1). Empty: everyone.'),
		field('Authorization value', { name: 'auth_header', type: 'password', autocomplete: 'off',
		    placeholder: app.has_auth_header ? 'unchanged' : 'none' },
		    'Visitors must send exactly this Authorization header. Leave empty to keep the current setting.'),
		app.has_auth_header ? field('Remove the Authorization requirement', { type: 'checkbox',
		    name: 'clear_auth' }) : null,
	];
	return formDialog({
		title: `Edit ${app.name}`, fields, submitLabel: 'Save changes',
		onSubmit: async (form) => {
			const body = { app_id: appId(app) };
			const name = form.name.value.trim();
			const desc = form.description.value;
			const newIps = form.allow_ips.value.split(/[\s,]+/).filter(Boolean).join(',');
			if (name !== app.name)
				body.name = name;
			if (desc !== (app.description || ''))
				body.description = desc;
			if (newIps !== ips.split(/[\s,]+/).filter(Boolean).join(','))
				body.allow_ips = newIps;
			if (form.clear_auth && form.clear_auth.checked)
				body.auth_header = '';
			else if (form.auth_header.value !== '')
				body.auth_header = form.auth_header.value;
			if (Object.keys(body).length === 1)
				return { name: app.name };
			const r = await api('POST', '/edit_app', { json: body });
			return r || { name };
		},
	});
}

function saveTemplateDialog(app) {
	return formDialog({
		title: `Save ${app.name} as a template`,
		description: 'The template keeps the sources only (never logs, virtual environments or built images).',
		fields: [
			field('Template name', { name: 'name', value: app.name, required: true, maxlength: 64,
			    autocapitalize: 'none', spellcheck: 'false' }),
			field('Description', { tag: 'textarea', name: 'description', rows: 3, maxlength: 1024,
			    value: app.description || '' }),
		],
		submitLabel: 'Save template',
		onSubmit: async (form) => {
			const name = form.name.value.trim();
			await api('POST', `/save_template/${encodeURIComponent(appId(app))}`,
			    { json: { name, description: form.description.value } });
			return name;
		},
	});
}

/* ---- the create form ---- */

const RUNTIMES = [
	['auto', 'Detect from the files', '.py,.zip,.tar,.tgz,.gz,application/zip,application/x-tar,application/gzip',
	    'slipway looks inside: a Dockerfile, a compose file, a docker save image, a Synapse plugin, or else a Python (Gradio) app.'],
	['gradio', 'Python / Gradio app', '.py,.zip,.tar,.tgz,.gz',
	    'A single .py file, or an archive with app.py (or the first .py file) and an optional requirements.txt.'],
	['docker', 'Dockerfile project', '.zip,.tar,.tgz,.gz',
	    'An archive with a Dockerfile. The app must listen on $PORT (or EXPOSE exactly one port).'],
	['compose', 'Compose project', '.zip,.tar,.tgz,.gz',
	    'An archive with docker-compose.yml or compose.yaml. No privileged services, host namespaces, host mounts or devices.'],
	['image', 'Docker image (docker save)', '.tar',
	    'A tarball made with “docker save”. It is loaded and run as is.'],
	['plugin', 'Synapse plugin', '.zip,.tar,.tgz,.gz',
	    'An archive with config.yaml naming a gradio entrypoint.'],
];

function suggestName(filename) {
	let n = filename.replace(/\.(tar\.gz|tgz|tar|zip|py|gz)$/i, '').toLowerCase()
	    .replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63);
	return n;
}

function envRow(list, key = '', value = '') {
	const n = list.children.length + 1;
	const row = h('li', { class: 'env-row' },
	    h('label', { class: 'sr-only', for: `env-key-${n}` }, `Variable ${n} name`),
	    h('input', { id: `env-key-${n}`, class: 'env-key', placeholder: 'NAME', value: key,
		autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', maxlength: 128,
		pattern: '[A-Za-z_][A-Za-z0-9_]*' }),
	    h('label', { class: 'sr-only', for: `env-val-${n}` }, `Variable ${n} value`),
	    h('input', { id: `env-val-${n}`, class: 'env-value', placeholder: 'value', value,
		autocomplete: 'off', spellcheck: 'false' }),
	    h('button', { type: 'button', class: 'icon-button', 'aria-label': `Remove variable ${n}`,
		onclick: () => { const next = row.nextElementSibling || row.previousElementSibling;
		    row.remove(); if (next) next.querySelector('input').focus(); } }, icon('close')));
	list.appendChild(row);
	return row;
}

function createForm(hooks) {
	let file = null;
	let ctl = null;
	const fileInput = h('input', { type: 'file', id: 'app-file', name: 'file',
	    'aria-describedby': 'app-file-hint app-file-chosen', accept: RUNTIMES[0][2] });
	const chosen = h('p', { id: 'app-file-chosen', class: 'file-chosen', 'aria-live': 'polite' }, 'No file chosen.');
	const drop = h('div', { class: 'dropzone', id: 'dropzone' },
	    icon('upload'),
	    h('p', null, h('strong', null, 'Drop a file here'), ' or choose one:'),
	    h('label', { for: 'app-file', class: 'sr-only' }, 'App file or archive'),
	    fileInput,
	    h('p', { class: 'hint', id: 'app-file-hint' }, 'A .py file, a .zip or .tar(.gz) source archive, or a docker save tar.'),
	    chosen);
	const runtimeHint = h('p', { class: 'hint', id: 'app-runtime-hint' }, RUNTIMES[0][3]);
	const runtime = h('select', { id: 'app-runtime', name: 'runtime', 'aria-describedby': 'app-runtime-hint' },
	    RUNTIMES.map(([v, label]) => h('option', { value: v }, label)));
	const envList = h('ul', { class: 'env-list', id: 'env-list' });
	const progress = h('progress', { id: 'upload-progress', max: 100, value: 0,
	    'aria-labelledby': 'upload-progress-label' });
	const progressText = h('p', { id: 'upload-progress-text', class: 'progress-text' });
	const cancelUpload = button('Cancel upload', { id: 'btn-cancel-upload', class: 'ghost small', hidden: true });
	const progressBox = h('div', { class: 'progress-box', id: 'upload-status', hidden: true, tabindex: '-1',
	    role: 'group', 'aria-labelledby': 'upload-progress-label' },
	    h('p', { id: 'upload-progress-label', class: 'progress-label' }, 'Upload'),
	    progress, progressText, cancelUpload);
	const err = h('p', { class: 'form-error', role: 'alert', id: 'create-error' });
	const submit = button('Upload and deploy', { type: 'submit', class: 'primary', id: 'create-submit' }, 'upload');

	const form = h('form', { id: 'create-form', class: 'create-form', novalidate: true },
	    h('h2', { id: 'create-title' }, 'New app'),
	    h('div', { class: 'grid2' },
		field('Name', { name: 'name', id: 'app-name', required: true, pattern: APP_NAME_RE, maxlength: 63,
		    autocapitalize: 'none', spellcheck: 'false', autocomplete: 'off' },
		    'Lowercase letters, digits, “_” and “-”; unique. Suggested from the file name.'),
		h('div', { class: 'field' }, h('label', { for: 'app-runtime' }, 'Runtime'), runtime, runtimeHint)),
	    field('Description', { tag: 'textarea', name: 'description', id: 'app-description', rows: 2, maxlength: 1024 }),
	    drop,
	    h('details', { class: 'advanced', id: 'create-advanced' },
		h('summary', null, 'Resources, access and environment'),
		h('div', { class: 'grid2' },
		    field('VRAM (MiB)', { name: 'vram_required', id: 'app-vram', type: 'number', min: 0,
			max: 10485760, step: 1, inputmode: 'numeric', value: '0' },
			'GPU memory the app needs; 0 runs it without a GPU.'),
		    field('Allowed IPs', { name: 'allow_ips', id: 'app-allow-ips', autocomplete: 'off', spellcheck: 'false',
			placeholder: 'everyone' },
			'Comma separated addresses or networks, e.g. 192.168.1.0/24, 2001:db8::/32.')),
		field('Authorization value', { name: 'auth_header', id: 'app-auth', type: 'password', autocomplete: 'off',
		    placeholder: 'none' },
		    'If set, visitors must send exactly this Authorization header (e.g. “Basic dXNlcjpwYXNz”: browsers then ask for a login).'),
		h('fieldset', { class: 'envs' },
		    h('legend', null, 'Environment variables'),
		    envList,
		    button('Add variable', { id: 'btn-add-env', class: 'ghost small',
			onclick: () => envRow(envList).querySelector('input').focus() }, 'plus'))),
	    err,
	    h('div', { class: 'form-actions' },
		button('Close', { class: 'ghost', id: 'create-close', onclick: () => hooks.onCancel() }),
		submit));

	function setFile(f) {
		file = f || null;
		chosen.textContent = file ? `${file.name} (${bytes(file.size)})` : 'No file chosen.';
		drop.classList.toggle('has-file', !!file);
		if (file && !form.name.value)
			form.name.value = suggestName(file.name);
	}
	fileInput.addEventListener('change', () => setFile(fileInput.files[0]));
	runtime.addEventListener('change', () => {
		const r = RUNTIMES.find((x) => x[0] === runtime.value) || RUNTIMES[0];
		runtimeHint.textContent = r[3];
		fileInput.accept = r[2];
	});
	for (const ev of ['dragenter', 'dragover'])
		drop.addEventListener(ev, (e) => {
			e.preventDefault();
			e.dataTransfer.dropEffect = 'copy';
			drop.classList.add('over');
		});
	for (const ev of ['dragleave', 'dragend'])
		drop.addEventListener(ev, () => drop.classList.remove('over'));
	drop.addEventListener('drop', (e) => {
		e.preventDefault();
		drop.classList.remove('over');
		const files = e.dataTransfer && e.dataTransfer.files;
		if (!files || files.length === 0)
			return;
		if (files.length > 1)
			toast('Drop one file (an archive holds several).', 'error');
		/* Keep the input in sync so the form shows one truth. */
		try {
			const dt = new DataTransfer();
			dt.items.add(files[0]);
			fileInput.files = dt.files;
		} catch (x) { /* older browsers: the variable below is enough */ }
		setFile(files[0]);
	});
	cancelUpload.addEventListener('click', () => { if (ctl) ctl.abort(); });
	const dismiss = button('Dismiss', { class: 'ghost small', id: 'upload-dismiss',
	    onclick: () => { progressBox.hidden = true; } }, 'close');
	progressBox.appendChild(dismiss);

	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		err.textContent = '';
		if (ctl)
			return;
		if (!form.reportValidity())
			return;
		if (!file) {
			err.textContent = 'Choose a file or drop one on the box.';
			fileInput.focus();
			return;
		}
		const envs = {};
		for (const row of envList.children) {
			const k = row.querySelector('.env-key'), v = row.querySelector('.env-value');
			if (!k.value && !v.value)
				continue;
			if (!ENV_KEY_RE.test(k.value)) {
				err.textContent = `“${k.value}” is not a valid variable name (letters, digits and “_”, not starting with a digit).`;
				form.querySelector('#create-advanced').open = true;
				k.focus();
				return;
			}
			envs[k.value] = v.value;
		}
		const fd = new FormData();
		fd.append('name', form.name.value.trim());
		if (form.description.value)
			fd.append('description', form.description.value);
		const vram = parseInt(form.vram_required.value || '0', 10);
		if (vram > 0)
			fd.append('vram_required', String(vram));
		const ips = form.allow_ips.value.split(/[\s,]+/).filter(Boolean).join(',');
		if (ips)
			fd.append('allow_ips', ips);
		if (form.auth_header.value)
			fd.append('auth_header', form.auth_header.value);
		if (Object.keys(envs).length)
			fd.append('envs', JSON.stringify(envs));
		fd.append('file', file, file.name);	/* last: text fields first in the stream */

		ctl = new AbortController();
		submit.disabled = true;
		cancelUpload.hidden = false;
		dismiss.hidden = true;
		progressBox.hidden = false;
		progressBox.classList.remove('done', 'failed');
		progress.max = Math.max(1, file.size);
		progress.value = 0;
		progressText.textContent = `Starting upload of ${file.name}…`;
		announce(`Uploading ${file.name}.`);
		let total = file.size;
		try {
			const r = await upload('/upload', fd, {
				signal: ctl.signal,
				onProgress: (loaded, t) => {
					if (t > 0)
						total = t;
					progress.max = Math.max(1, total);
					progress.value = Math.min(loaded, total);
					const pct = Math.floor((100 * Math.min(loaded, total)) / Math.max(1, total));
					progressText.textContent = `${bytes(loaded)} of ${bytes(total)} sent (${pct}%)` +
					    (pct >= 100 ? ': waiting for the server…' : '');
					progress.dataset.percent = String(pct);
				},
			});
			progress.value = progress.max;
			progress.dataset.percent = '100';
			progressBox.classList.add('done');
			const name = (r && r.name) || form.name.value.trim();
			progressText.textContent = `${bytes(total)} of ${bytes(total)} sent (100%). ` +
			    `${name} was accepted (${(r && r.status) || 'queued'}); its status shows below.`;
			toast(`Uploaded ${name}: it is ${(r && r.status) || 'queued'}.`);
			form.reset();
			envList.replaceChildren();
			setFile(null);
			hooks.onUploaded(r);
		} catch (e) {
			progressBox.classList.add('failed');
			progressText.textContent = e.code === 'aborted' ? 'Upload cancelled.' : `Upload failed: ${e.detail || e.message}`;
			if (e.code !== 'aborted')
				err.textContent = e.detail || e.message;
		} finally {
			ctl = null;
			submit.disabled = false;
			cancelUpload.hidden = true;
			dismiss.hidden = false;
		}
	});
	return { form, progressBox };
}

