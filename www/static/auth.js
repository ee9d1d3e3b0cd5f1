// auth.js: the login and register screens.

import { api, session } from './api.js';
import { h, field, toast } from './dom.js';

const USERNAME_RE = '[a-z][a-z0-9_.\\-]{1,31}';

function authCard(title, tabs, form) {
	return h('section', { class: 'auth', 'aria-labelledby': 'auth-title' },
	    h('div', { class: 'card auth-card' },
		h('h1', { id: 'auth-title', tabindex: '-1' }, title),
		h('nav', { class: 'auth-tabs', 'aria-label': 'Account' }, tabs),
		form));
}

function tabs(current) {
	return [
		h('a', { href: '#/login', 'aria-current': current === 'login' ? 'page' : null }, 'Log in'),
		h('a', { href: '#/register', 'aria-current': current === 'register' ? 'page' : null }, 'Create account'),
	];
}

async function doLogin(username, password) {
	const r = await api('POST', '/login', { json: { username, password } });
	if (!r || !r.access_token)
		throw new Error('The server sent no token.');
	session.set(r.access_token, r.expires_at);
	return r;
}

export function renderLogin(main, ctx) {
	const err = h('p', { class: 'form-error', role: 'alert', id: 'login-error' });
	const form = h('form', { id: 'login-form', class: 'stack', novalidate: true },
	    field('Username', { name: 'username', id: 'login-username', autocomplete: 'username',
		required: true, autocapitalize: 'none', spellcheck: 'false' }),
	    field('Password', { name: 'password', id: 'login-password', type: 'password',
		autocomplete: 'current-password', required: true }),
	    err,
	    h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, 'Log in'));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		err.textContent = '';
		const u = form.username.value.trim(), p = form.password.value;
		if (!u || !p) {
			err.textContent = 'Enter your username and password.';
			return;
		}
		const btn = form.querySelector('button[type=submit]');
		btn.disabled = true;
		try {
			await doLogin(u, p);
			await ctx.signedIn();
		} catch (e) {
			err.textContent = e.detail || e.message;
			form.password.select();
		} finally {
			btn.disabled = false;
		}
	});
	main.appendChild(authCard('Log in to slipway', tabs('login'), form));
	form.username.focus();
}

export function renderRegister(main, ctx) {
	const err = h('p', { class: 'form-error', role: 'alert', id: 'register-error' });
	const form = h('form', { id: 'register-form', class: 'stack' },
	    field('Username', { name: 'username', id: 'register-username', autocomplete: 'username',
		required: true, pattern: USERNAME_RE, maxlength: 32, autocapitalize: 'none',
		spellcheck: 'false' },
		'2 to 32 characters: lowercase letters, digits, “_”, “.” and “-”, starting with a letter.'),
	    field('Password', { name: 'password', id: 'register-password', type: 'password',
		autocomplete: 'new-password', required: true, minlength: 8, maxlength: 256 },
		'At least 8 characters.'),
	    field('Repeat password', { name: 'password2', id: 'register-password2', type: 'password',
		autocomplete: 'new-password', required: true, minlength: 8, maxlength: 256 }),
	    err,
	    h('button', { type: 'submit', class: 'primary', id: 'register-submit' }, 'Create account'));
	form.password2.addEventListener('input', () => {
		form.password2.setCustomValidity(form.password2.value === form.password.value ?
		    '' : 'The passwords differ.');
	});
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		err.textContent = '';
		form.password2.setCustomValidity(form.password2.value === form.password.value ?
		    '' : 'The passwords differ.');
		if (!form.reportValidity())
			return;
		const btn = form.querySelector('button[type=submit]');
		btn.disabled = true;
		const u = form.username.value.trim(), p = form.password.value;
		try {
			await api('POST', '/register', { json: { username: u, password: p } });
			await doLogin(u, p);
			await ctx.signedIn();
			toast(`Welcome, ${u}: your account is ready.`);
		} catch (e) {
			err.textContent = e.detail || e.message;
		} finally {
			btn.disabled = false;
		}
	});
	main.appendChild(authCard('Create an account', tabs('register'), form));
	form.username.focus();
}

