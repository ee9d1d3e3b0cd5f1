// main.js: boot, session and the hash router (#/login, #/register, #/apps,
// #/new, #/templates, #/admin).  Every other path of the control site
// belongs to the API, so the UI lives entirely under "/".

import { api, session, onUnauthorized } from './api.js';
import { h, field, toast, errorToast, formDialog, clearToasts } from './dom.js';
import { renderLogin, renderRegister } from './auth.js';
import { renderApps } from './apps.js';
import { renderTemplates } from './templates.js';
import { renderAdmin } from './admin.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const account = document.getElementById('account');
const whoami = document.getElementById('whoami');
const navAdmin = document.getElementById('nav-admin');

const ctx = {
	user: null,
	navigate(hash) {
		if (location.hash === hash)
			route();
		else
			location.hash = hash;
	},
	async signedIn() {
		await loadMe();
		clearToasts();
		const want = sessionStorage.getItem('slipway.after-login');
		sessionStorage.removeItem('slipway.after-login');
		ctx.navigate(want && !/^#\/(login|register)/.test(want) ? want : '#/apps');
	},
};

const PUBLIC = { login: renderLogin, register: renderRegister };
const PRIVATE = {
	apps: (m, c) => renderApps(m, c),
	new: (m, c) => renderApps(m, c, { create: true }),
	templates: renderTemplates,
	admin: renderAdmin,
};
const TITLES = { login: 'Log in', register: 'Create account', apps: 'Apps', new: 'New app',
    templates: 'Templates', admin: 'Admin' };

let cleanup = null;
let firstRoute = true;

function showChrome(signedIn) {
	nav.hidden = !signedIn;
	account.hidden = !signedIn;
	navAdmin.hidden = !(signedIn && ctx.user && ctx.user.is_admin);
	whoami.textContent = signedIn && ctx.user ? ctx.user.username : '';
	if (signedIn && ctx.user && ctx.user.is_admin)
		whoami.appendChild(h('span', { class: 'role' }, 'admin'));
}

function route() {
	const name = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0] || 'apps';
	const signedIn = !!session.token && !!ctx.user;
	if (!signedIn && !PUBLIC[name]) {
		if (PRIVATE[name] && name !== 'apps')
			sessionStorage.setItem('slipway.after-login', '#/' + name);
		if (location.hash !== '#/login') {
			location.replace('#/login');
			return;	/* hashchange comes back here */
		}
	}
	if (signedIn && PUBLIC[name]) {
		location.replace('#/apps');
		return;
	}
	const view = (signedIn ? PRIVATE[name] : PUBLIC[name]) || (signedIn ? PRIVATE.apps : PUBLIC.login);
	if (cleanup) {
		try { cleanup(); } catch (e) { /* a view's cleanup never blocks the next */ }
		cleanup = null;
	}
	for (const d of document.querySelectorAll('dialog'))
		d.close();
	main.replaceChildren();
	showChrome(signedIn);
	for (const a of nav.querySelectorAll('a[data-route]')) {
		const cur = a.dataset.route === name || (name === 'new' && a.dataset.route === 'apps');
		if (cur)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
	document.title = `${TITLES[name] || 'Apps'} · slipway`;
	cleanup = view(main, ctx) || null;
	if (!firstRoute && !main.contains(document.activeElement)) {
		const h1 = main.querySelector('h1');
		if (h1)
			h1.focus();
	}
	firstRoute = false;
}

async function loadMe() {
	ctx.user = await api('GET', '/users/me');
	return ctx.user;
}

onUnauthorized(() => {
	const had = !!ctx.user;
	ctx.user = null;
	if (had)
		toast('Your session has ended. Please log in again.', 'error');
	if (!/^#\/(login|register)/.test(location.hash)) {
		location.hash = '#/login';
	} else {
		route();
	}
});

document.getElementById('btn-logout').addEventListener('click', async () => {
	try {
		await api('POST', '/logout');
	} catch (e) { /* the token goes anyway */ }
	session.clear();
	ctx.user = null;
	clearToasts();
	toast('Logged out.');
	location.hash = '#/login';
});

document.getElementById('btn-password').addEventListener('click', async () => {
	const ok = await formDialog({
		title: 'Change your password',
		description: 'All your sessions end; you log in again with the new password.',
		fields: [
			field('Current password', { name: 'old_password', type: 'password', required: true,
			    autocomplete: 'current-password' }),
			field('New password', { name: 'new_password', type: 'password', required: true,
			    minlength: 8, maxlength: 256, autocomplete: 'new-password' }, 'At least 8 characters.'),
		],
		submitLabel: 'Change password',
		onSubmit: (form) => api('POST', '/users/me/password', { json: {
			old_password: form.old_password.value, new_password: form.new_password.value } }).then(() => true),
	});
	if (ok) {
		session.clear();
		ctx.user = null;
		toast('Password changed. Log in with the new password.');
		location.hash = '#/login';
	}
});

document.getElementById('skip-link').addEventListener('click', (ev) => {
	ev.preventDefault();
	const target = main.querySelector('h1') || main;
	target.focus();
});

window.addEventListener('hashchange', route);

(async function boot() {
	if (session.token) {
		try {
			await loadMe();
		} catch (e) {
			if (e.status !== 401)
				errorToast(e, 'Checking your session');
			if (e.status === 401 || e.status === 403)
				session.clear();
			ctx.user = null;
		}
	}
	route();
})();
