// logs.js: a live-following log viewer (GET /logs/{id}?follow=1 streamed
// through fetch + ReadableStream), auto-scrolling unless paused.

import { follow } from './api.js';
import { h, icon, button } from './dom.js';

const MAX_CHARS = 1 << 20;	/* keep the last ~1 MB on screen */
const TAIL_LINES = 2000;

export function openLogs(app) {
	const id = String(app.app_id || app.id);
	const opener = document.activeElement;
	let ctl = null;
	let autoScroll = true;
	let pending = '';
	let frame = 0;
	let programmatic = false;

	const text = document.createTextNode('');
	const out = h('pre', { class: 'log-output', id: 'log-output', tabindex: '0',
	    'aria-label': `Log of ${app.name}` }, text);
	const state = h('p', { class: 'log-state', id: 'log-state', role: 'status' }, 'Connecting…');
	const pauseBtn = button('Pause auto-scroll', { id: 'log-pause', class: 'ghost small',
	    'aria-pressed': 'false' }, 'pause');
	const reconnectBtn = button('Reconnect', { id: 'log-reconnect', class: 'ghost small', hidden: true }, 'refresh');
	const closeBtn = button('Close', { id: 'log-close', class: 'small' }, 'close');
	const dlg = h('dialog', { class: ['dialog', 'logs-dialog'], 'aria-labelledby': 'log-title' },
	    h('div', { class: 'log-head' },
		h('h2', { id: 'log-title' }, 'Logs: ', h('span', { class: 'log-app' }, app.name)),
		h('div', { class: 'log-tools' }, pauseBtn, reconnectBtn, closeBtn)),
	    state,
	    out);

	function setAuto(on) {
		autoScroll = on;
		pauseBtn.setAttribute('aria-pressed', on ? 'false' : 'true');
		pauseBtn.querySelector('span').textContent = on ? 'Pause auto-scroll' : 'Resume auto-scroll';
		pauseBtn.replaceChild(icon(on ? 'pause' : 'play'), pauseBtn.querySelector('svg'));
		if (on)
			scrollDown();
	}

	function scrollDown() {
		programmatic = true;
		out.scrollTop = out.scrollHeight;
		requestAnimationFrame(() => { programmatic = false; });
	}

	function flush() {
		frame = 0;
		if (!pending)
			return;
		text.appendData(pending);
		pending = '';
		if (text.length > MAX_CHARS) {
			const cut = text.data.indexOf('\n', text.length - Math.floor(MAX_CHARS * 0.8));
			text.deleteData(0, cut > 0 ? cut + 1 : text.length - MAX_CHARS);
		}
		if (autoScroll)
			scrollDown();
	}

	function onText(s) {
		pending += s;
		if (!frame)
			frame = requestAnimationFrame(flush);
	}

	async function connect() {
		if (ctl)
			ctl.abort();
		ctl = new AbortController();
		const mine = ctl;
		text.data = '';
		reconnectBtn.hidden = true;
		state.textContent = 'Following the log…';
		dlg.classList.add('live');
		try {
			await follow(`/logs/${encodeURIComponent(id)}?follow=1&tail=${TAIL_LINES}`,
			    { onText, signal: mine.signal });
			flush();
			if (mine === ctl)
				state.textContent = 'The log stream ended (the app is not running).';
		} catch (e) {
			if (e.name === 'AbortError')
				return;
			flush();
			state.textContent = `Could not follow the log: ${e.detail || e.message}`;
		}
		if (mine === ctl) {
			dlg.classList.remove('live');
			reconnectBtn.hidden = false;
		}
	}

	pauseBtn.addEventListener('click', () => setAuto(!autoScroll));
	reconnectBtn.addEventListener('click', connect);
	closeBtn.addEventListener('click', () => dlg.close());
	/* Scrolling up by hand pauses; back at the bottom resumes. */
	out.addEventListener('scroll', () => {
		if (programmatic)
			return;
		const atBottom = out.scrollHeight - out.scrollTop - out.clientHeight < 8;
		if (autoScroll && !atBottom)
			setAuto(false);
		else if (!autoScroll && atBottom)
			setAuto(true);
	});
	dlg.addEventListener('close', () => {
		if (ctl)
			ctl.abort();
		ctl = null;
		if (frame)
			cancelAnimationFrame(frame);
		dlg.remove();
		if (opener && opener.isConnected)
			opener.focus();
	});
	document.body.appendChild(dlg);
	dlg.showModal();
	closeBtn.focus();
	connect();
}
