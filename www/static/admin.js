// admin.js: users, GPUs and the Synapse container list (admins only; the
// API enforces it, the UI only hides the entry).

import { api } from './api.js';
import { h, button, field, toast, errorToast, formDialog, confirmDialog, timeEl } from './dom.js';

function table(caption, head, rows, id) {
	return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
	    h('table', { id },
		h('caption', { class: 'sr-only' }, caption),
		h('thead', null, h('tr', null, head.map((c) => h('th', { scope: 'col' }, c)))),
		h('tbody', null, rows)));
}

function mib(n) {
	return Number.isFinite(n) ? `${n} MiB` : '—';
}

function section(id, title, ...children) {
	return h('section', { class: 'card admin-section', id, 'aria-labelledby': id + '-title' },
	    h('h2', { id: id + '-title' }, title), children);
}

export function renderAdmin(main, ctx) {
	let stopped = false;
	if (!ctx.user || !ctx.user.is_admin) {
		main.appendChild(h('section', { class: 'view' },
		    h('h1', { tabindex: '-1' }, 'Admin'),
		    h('p', null, 'Only administrators can see this page.')));
		return () => {};
	}
	const users = h('div', { id: 'admin-users-body' }, h('p', null, 'Loading…'));
	const gpus = h('div', { id: 'admin-gpus-body' }, h('p', null, 'Loading…'));
	const conts = h('div', { id: 'admin-containers-body' }, h('p', null, 'Loading…'));
	let page = 1;
	const pageSize = 20;

	main.appendChild(h('section', { class: 'view', 'aria-labelledby': 'admin-title' },
	    h('div', { class: 'view-head' }, h('h1', { id: 'admin-title', tabindex: '-1' }, 'Admin'),
		h('nav', { class: 'subnav', 'aria-label': 'Admin sections' },
		    h('a', { href: '#/admin', dataset: { jump: 'admin-users' } }, 'Users'),
		    h('a', { href: '#/admin', dataset: { jump: 'admin-gpus' } }, 'GPUs'),
		    h('a', { href: '#/admin', dataset: { jump: 'admin-containers' } }, 'Containers'))),
	    section('admin-users', 'Users', users),
	    section('admin-gpus', 'GPUs', gpus),
	    section('admin-containers', 'Containers', conts)));
	for (const a of main.querySelectorAll('[data-jump]'))
		a.addEventListener('click', (ev) => {
			ev.preventDefault();
			const s = document.getElementById(a.dataset.jump);
			s.scrollIntoView();
			s.querySelector('h2').setAttribute('tabindex', '-1');
			s.querySelector('h2').focus();
		});

	function failed(where, e) {
		where.replaceChildren(h('p', { class: 'form-error' }, `Could not load: ${e.detail || e.message}`));
	}

	async function loadUsers() {
		try {
			const list = await api('GET', '/users');
			if (stopped)
				return;
			const rows = (Array.isArray(list) ? list : []).map((u) => h('tr', { dataset: { userId: String(u.id) } },
			    h('td', null, String(u.id)),
			    h('th', { scope: 'row' }, u.username),
			    h('td', null, u.is_admin ? 'yes' : 'no'),
			    h('td', null, timeEl(u.created_at)),
			    h('td', null, h('div', { class: 'row-actions' },
				button('Reset password', { class: 'small', 'aria-label': `Reset password of ${u.username}`,
				    onclick: () => resetPassword(u) }, 'key'),
				u.username === 'admin' || (ctx.user && u.id === ctx.user.id) ? null :
				    button('Delete', { class: 'small danger-ghost', 'aria-label': `Delete user ${u.username}`,
					onclick: () => deleteUser(u) }, 'trash')))));
			users.replaceChildren(table('Users', ['ID', 'Username', 'Admin', 'Created', 'Actions'], rows, 'users-table'));
		} catch (e) {
			if (!stopped)
				failed(users, e);
		}
	}

	async function resetPassword(u) {
		const ok = await formDialog({
			title: `Reset the password of ${u.username}`,
			description: 'Their sessions end at once; tell them the new password.',
			fields: [field('New password', { name: 'new_password', type: 'password', required: true,
			    minlength: 8, maxlength: 256, autocomplete: 'new-password' }, 'At least 8 characters.')],
			submitLabel: 'Reset password',
			onSubmit: (form) => api('POST', `/users/${encodeURIComponent(u.id)}/reset_password`,
			    { json: { new_password: form.new_password.value } }).then(() => true),
		});
		if (ok)
			toast(`Password of ${u.username} reset.`);
	}

	async function deleteUser(u) {
		if (!await confirmDialog(`Delete user ${u.username}?`,
		    'Their tokens are revoked. This cannot be undone.', 'Delete user'))
			return;
		try {
			await api('DELETE', `/users/${encodeURIComponent(u.id)}`);
			toast(`Deleted user ${u.username}.`);
		} catch (e) {
			errorToast(e, `Deleting ${u.username}`);
		}
		loadUsers();
	}

	async function loadGpus() {
		try {
			const list = await api('GET', '/gpus');
			if (stopped)
				return;
			if (!Array.isArray(list) || list.length === 0) {
				gpus.replaceChildren(h('p', { id: 'gpus-none' }, 'This host has no GPUs: apps that need VRAM end in error.'));
				return;
			}
			const rows = list.map((g) => h('tr', null,
			    h('th', { scope: 'row' }, String(g.index)),
			    h('td', null, String(g.name || '')),
			    h('td', null, mib(g.memory_total)),
			    h('td', null, mib(g.memory_free)),
			    h('td', null, mib(g.reserved)),
			    h('td', null, Array.isArray(g.apps) && g.apps.length ? g.apps.map(String).join(', ') : '—')));
			gpus.replaceChildren(table('GPUs', ['Index', 'Name', 'Total', 'Free', 'Reserved', 'Apps'], rows, 'gpus-table'));
		} catch (e) {
			if (!stopped)
				failed(gpus, e);
		}
	}

	function chips(labels) {
		let arr = labels;
		if (labels && !Array.isArray(labels) && typeof labels === 'object')
			arr = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
		if (!Array.isArray(arr) || arr.length === 0)
			return '—';
		return h('ul', { class: 'chips' }, arr.map((l) => h('li', null, String(l))));
	}

	function jsonBlock(o) {
		if (!o || (typeof o === 'object' && Object.keys(o).length === 0))
			return '—';
		return h('details', null, h('summary', null, `${Object.keys(o).length} keys`),
		    h('pre', { class: 'json' }, JSON.stringify(o, null, 2)));
	}

	async function loadContainers(focusId) {
		try {
			const r = await api('GET', '/containers', { query: { page, page_size: pageSize } });
			if (stopped)
				return;
			const results = (r && Array.isArray(r.results)) ? r.results : [];
			const rows = results.map((c) => h('tr', null,
			    h('td', null, String(c.id)),
			    h('th', { scope: 'row' }, String(c.name || '')),
			    h('td', null, h('span', { class: ['badge', 'st-' + String(c.status)] }, String(c.status || ''))),
			    h('td', null, String(c.plugin_release || '—')),
			    h('td', null, c.model === null || c.model === undefined ? '—' : String(c.model)),
			    h('td', { class: 'wrap' }, c.endpoint ? h('a', { href: c.endpoint, target: '_blank',
				rel: 'noopener noreferrer' }, c.endpoint) : '—'),
			    h('td', null, chips(c.labels)),
			    h('td', null, jsonBlock(c.metadata)),
			    h('td', null, timeEl(c.created_at))));
			const count = Number(r && r.count) || 0;
			const pages = Math.max(1, Math.ceil(count / pageSize));
			const prev = button('Previous', { class: 'small', id: 'containers-prev', disabled: !(r && r.previous),
			    onclick: () => { page--; loadContainers('containers-prev'); } });
			const next = button('Next', { class: 'small', id: 'containers-next', disabled: !(r && r.next),
			    onclick: () => { page++; loadContainers('containers-next'); } });
			conts.replaceChildren(
			    results.length ? table('Containers', ['ID', 'Name', 'Status', 'Plugin release', 'Model',
				'Endpoint', 'Labels', 'Metadata', 'Created'], rows, 'containers-table') :
				h('p', null, 'No containers.'),
			    h('nav', { class: 'pager', 'aria-label': 'Container pages' }, prev,
				h('span', { 'aria-live': 'polite' }, `Page ${page} of ${pages} (${count} containers)`), next));
			/* Keep the keyboard where it was: on the pager button, or its twin. */
			if (focusId) {
				const b = document.getElementById(focusId);
				(b && !b.disabled ? b : (focusId === 'containers-next' ? prev : next)).focus();
			}
		} catch (e) {
			if (!stopped)
				failed(conts, e);
		}
	}

	loadUsers();
	loadGpus();
	loadContainers();
	return () => { stopped = true; };
}
