// dom.js: building DOM without HTML strings.  Every text from the server
// goes through text nodes (textContent); nothing here ever assigns
// innerHTML, and the CSP forbids inline scripts and style attributes anyway.

const SVG_NS = 'http://www.w3.org/2000/svg';
/* Set as properties, not attributes (live form state). */
const PROPS = new Set(['value', 'checked', 'selected', 'indeterminate', 'defaultValue']);
const FORBIDDEN = new Set(['innerhtml', 'outerhtml', 'style', 'srcdoc']);

function appendChildren(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false || c === true)
			continue;
		if (Array.isArray(c))
			appendChildren(el, c);
		else if (c instanceof Node)
			el.appendChild(c);
		else
			el.appendChild(document.createTextNode(String(c)));
	}
}

/* Only URLs a user can follow safely: http(s), or paths/fragments of ours. */
export function safeUrl(u) {
	if (typeof u !== 'string' || u === '')
		return null;
	if (u.startsWith('#') || (u.startsWith('/') && !u.startsWith('//')))
		return u;
	try {
		const p = new URL(u);
		if (p.protocol === 'http:' || p.protocol === 'https:')
			return p.href;
	} catch (e) { /* not a URL */ }
	return null;
}

/*
 * h(tag, attrs, ...children): attrs maps names to values; on<event> values
 * that are functions become listeners; class may be an array; dataset an
 * object; true sets a boolean attribute, false/null leaves it out.
 */
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		const lk = k.toLowerCase();
		if (FORBIDDEN.has(lk))
			throw new Error(`h(): attribute ${k} is not allowed`);
		if (lk.startsWith('on')) {
			if (typeof v !== 'function')
				throw new Error(`h(): ${k} must be a function`);
			el.addEventListener(lk.slice(2), v);
		} else if (k === 'class') {
			el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
		} else if (k === 'dataset') {
			for (const [dk, dv] of Object.entries(v))
				el.dataset[dk] = String(dv);
		} else if (lk === 'href' || lk === 'src' || lk === 'action') {
			const u = safeUrl(String(v));
			if (u)
				el.setAttribute(k, u);
		} else if (k === 'value' && (tag === 'input' || tag === 'textarea')) {
			el.defaultValue = String(v);	/* so form.reset() comes back to it */
		} else if (PROPS.has(k)) {
			el[k] = v;
		} else {
			el.setAttribute(k, v === true ? '' : String(v));
		}
	}
	appendChildren(el, children);
	return el;
}

/* Small line icons (24×24, stroke), drawn here: no icon font, no requests. */
const ICONS = {
	plus: ['M12 5v14', 'M5 12h14'],
	upload: ['M12 16V4', 'M7 9l5-5 5 5', 'M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3'],
	open: ['M14 4h6v6', 'M20 4l-9 9', 'M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5'],
	logs: ['M5 4h14v16H5z', 'M8 8h8', 'M8 12h8', 'M8 16h5'],
	stop: ['M7 7h10v10H7z'],
	play: ['M8 5l11 7-11 7z'],
	restart: ['M20 12a8 8 0 1 1-2.34-5.66', 'M20 4v5h-5'],
	edit: ['M4 20h4L19 9l-4-4L4 16z', 'M13.5 6.5l4 4'],
	save: ['M5 4h11l3 3v13H5z', 'M8 4v5h7V4', 'M8 20v-6h8v6'],
	trash: ['M4 7h16', 'M9 7V4h6v3', 'M6 7l1 13h10l1-13', 'M10 11v6', 'M14 11v6'],
	close: ['M6 6l12 12', 'M18 6L6 18'],
	rocket: ['M12 3c4 2 6 6 5 11l-3 3h-4l-3-3c-1-5 1-9 5-11z', 'M10 20l2 2 2-2', 'M12 10.5a1 1 0 1 0 0 .01'],
	pause: ['M8 5v14', 'M16 5v14'],
	key: ['M14 10a4 4 0 1 0-3.5 4L12 15.5V18h2.5v2.5H17v-3l-3.1-3.1A4 4 0 0 0 14 10z'],
	refresh: ['M4 12a8 8 0 0 1 14-5.3', 'M20 4v4h-4', 'M20 12a8 8 0 0 1-14 5.3', 'M4 20v-4h4'],
};

export function icon(name) {
	const svg = document.createElementNS(SVG_NS, 'svg');
	svg.setAttribute('viewBox', '0 0 24 24');
	svg.setAttribute('width', '18');
	svg.setAttribute('height', '18');
	svg.setAttribute('aria-hidden', 'true');
	svg.setAttribute('focusable', 'false');
	svg.setAttribute('class', 'icon');
	for (const d of ICONS[name] || []) {
		const p = document.createElementNS(SVG_NS, 'path');
		p.setAttribute('d', d);
		svg.appendChild(p);
	}
	return svg;
}

/* A button with an icon and a visible label. */
export function button(label, attrs, iconName) {
	const a = Object.assign({ type: 'button' }, attrs || {});
	return h('button', a, iconName ? icon(iconName) : null, h('span', null, label));
}

/* ---- toasts and live announcements ---- */

export function toast(message, kind = 'info') {
	const region = document.getElementById(kind === 'error' ? 'toast-errors' : 'toast-info');
	if (!region)
		return;
	const close = h('button', { type: 'button', class: 'toast-close',
	    'aria-label': 'Dismiss message' }, icon('close'));
	const t = h('div', { class: ['toast', 'toast-' + kind] },
	    h('p', null, message), close);
	const remove = () => t.remove();
	close.addEventListener('click', remove);
	region.appendChild(t);
	setTimeout(remove, kind === 'error' ? 12000 : 5000);
	/* Keep the stack short. */
	while (region.children.length > 3)
		region.firstElementChild.remove();
}

/* Forget the messages of a previous session (on login and logout). */
export function clearToasts() {
	for (const t of document.querySelectorAll('.toast'))
		t.remove();
}

export function errorToast(e, what) {
	if (e && e.name === 'AbortError')
		return;
	const detail = (e && (e.detail || e.message)) || 'Something went wrong.';
	toast(what ? `${what}: ${detail}` : detail, 'error');
}

/* Screen-reader announcement (the visible page already shows it). */
export function announce(message) {
	const a = document.getElementById('announcer');
	if (!a)
		return;
	a.textContent = '';
	/* A fresh text node after a tick so repeated messages are read again. */
	setTimeout(() => { a.textContent = message; }, 50);
}

/* ---- dialogs: real <dialog> elements, never confirm()/prompt() ---- */

let dialogSeq = 0;

/*
 * formDialog({title, description, fields, submitLabel, danger, onSubmit})
 * fields: nodes to put in the form (use field() below).  onSubmit(form)
 * may throw (its message is shown inside the dialog, which stays open) or
 * return a value; the promise resolves with that value, or null if the
 * user cancelled.
 */
export function formDialog(opts) {
	return new Promise((resolve) => {
		const id = 'dlg-' + (++dialogSeq);
		const opener = document.activeElement;
		const err = h('p', { class: 'dialog-error', role: 'alert' });
		const submit = h('button', { type: 'submit', class: opts.danger ? 'danger' : 'primary',
		    dataset: { action: 'dialog-submit' } }, opts.submitLabel || 'Save');
		const cancel = h('button', { type: 'button', class: 'ghost',
		    dataset: { action: 'dialog-cancel' } }, opts.cancelLabel || 'Cancel');
		const form = h('form', { method: 'dialog', novalidate: opts.novalidate ? true : null },
		    h('h2', { id: id + '-title' }, opts.title),
		    opts.description ? h('p', { id: id + '-desc', class: 'dialog-desc' }, opts.description) : null,
		    opts.fields || [],
		    err,
		    h('div', { class: 'dialog-actions' }, cancel, submit));
		const dlg = h('dialog', { class: ['dialog', opts.wide ? 'wide' : null],
		    'aria-labelledby': id + '-title',
		    'aria-describedby': opts.description ? id + '-desc' : null }, form);
		let result = null;
		let busy = false;
		cancel.addEventListener('click', () => dlg.close());
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			if (busy)
				return;
			if (!form.reportValidity())
				return;
			busy = true;
			submit.disabled = true;
			err.textContent = '';
			try {
				result = opts.onSubmit ? await opts.onSubmit(form) : true;
				if (result === undefined)
					result = true;
				dlg.close();
			} catch (e) {
				err.textContent = (e && (e.detail || e.message)) || 'Something went wrong.';
				result = null;
			} finally {
				busy = false;
				submit.disabled = false;
			}
		});
		dlg.addEventListener('close', () => {
			dlg.remove();
			if (opener && opener.isConnected && typeof opener.focus === 'function')
				opener.focus();
			resolve(result);
		});
		document.body.appendChild(dlg);
		dlg.showModal();
		const first = opts.focusCancel ? cancel :
		    form.querySelector('input:not([type=hidden]), textarea, select') || submit;
		first.focus();
	});
}

export function confirmDialog(title, message, confirmLabel, danger = true) {
	return formDialog({ title, description: message, submitLabel: confirmLabel,
	    danger, focusCancel: true }).then((r) => r === true);
}

/*
 * field(label, inputAttrs, hint): a labelled input (or textarea/select when
 * inputAttrs.tag says so) with its hint tied through aria-describedby.
 */
let fieldSeq = 0;
export function field(label, attrs, hint, options) {
	const a = Object.assign({}, attrs || {});
	const tag = a.tag || 'input';
	delete a.tag;
	const id = a.id || ('f' + (++fieldSeq));
	a.id = id;
	let hintEl = null;
	if (hint) {
		hintEl = h('p', { class: 'hint', id: id + '-hint' }, hint);
		a['aria-describedby'] = id + '-hint';
	}
	const input = h(tag, a, options || []);
	return h('div', { class: ['field', a.type === 'checkbox' ? 'field-check' : null] },
	    a.type === 'checkbox' ? [input, h('label', { for: id }, label)] :
	    [h('label', { for: id }, label), input], hintEl);
}

/* Human sizes and times. */
export function bytes(n) {
	if (!Number.isFinite(n))
		return '';
	const u = ['B', 'KB', 'MB', 'GB', 'TB'];
	let i = 0;
	while (n >= 1024 && i < u.length - 1) {
		n /= 1024;
		i++;
	}
	return (i === 0 ? String(n) : n.toFixed(n >= 10 ? 0 : 1)) + ' ' + u[i];
}

export function when(ts) {
	if (ts === null || ts === undefined || ts === '')
		return '';
	const d = typeof ts === 'number' ? new Date(ts * 1000) : new Date(ts);
	if (isNaN(d.getTime()))
		return String(ts);
	return d.toLocaleString();
}

export function timeEl(ts) {
	const d = typeof ts === 'number' ? new Date(ts * 1000) : new Date(ts);
	if (ts === null || ts === undefined || isNaN(d.getTime()))
		return h('span', null, ts ? String(ts) : '—');
	return h('time', { datetime: d.toISOString() }, d.toLocaleString());
}
