// templates.js: the template gallery: deploy (with a name prompt), upload,
// edit, delete.

import { api, upload } from './api.js';
import { h, button, field, toast, errorToast, announce, formDialog, confirmDialog,
    bytes, timeEl } from './dom.js';

const APP_NAME_RE = '[a-z0-9][a-z0-9_\\-]{0,62}';

function suggestAppName(t) {
	const base = String(t.name).toLowerCase().replace(/[^a-z0-9_-]+/g, '-')
	    .replace(/^[^a-z0-9]+/, '').slice(0, 50) || 'app';
	return `${base}-${Math.random().toString(36).slice(2, 6)}`;
}

export function renderTemplates(main, ctx) {
	let stopped = false;
	const gallery = h('ul', { class: 'gallery', id: 'template-list', 'aria-label': 'Templates' });
	const empty = h('p', { class: 'empty', id: 'templates-empty', hidden: true },
	    'No templates yet. Upload one, or save an app as a template from “My apps”.');
	const status = h('p', { class: 'sync-note', id: 'templates-state', role: 'status' }, 'Loading…');
	const panel = h('section', { class: 'card create-panel', id: 'template-upload-panel', hidden: true,
	    'aria-labelledby': 'tpl-upload-title' });
	const toggle = button('Upload template', { id: 'btn-upload-template', class: 'primary',
	    'aria-expanded': 'false', 'aria-controls': 'template-upload-panel' }, 'upload');
	toggle.addEventListener('click', () => {
		panel.hidden = !panel.hidden;
		toggle.setAttribute('aria-expanded', panel.hidden ? 'false' : 'true');
		if (!panel.hidden)
			panel.querySelector('input').focus();
	});
	panel.appendChild(uploadForm(() => load(), () => {
		panel.hidden = true;
		toggle.setAttribute('aria-expanded', 'false');
		toggle.focus();
	}));

	main.appendChild(h('section', { class: 'view', 'aria-labelledby': 'templates-title' },
	    h('div', { class: 'view-head' },
		h('h1', { id: 'templates-title', tabindex: '-1' }, 'Templates'),
		h('div', { class: 'view-tools' }, toggle)),
	    panel, status, empty, gallery));

	async function load() {
		try {
			const list = await api('GET', '/templates');
			if (stopped)
				return;
			render(Array.isArray(list) ? list : []);
			status.textContent = '';
		} catch (e) {
			if (stopped)
				return;
			status.textContent = `Could not load the templates: ${e.detail || e.message}`;
			errorToast(e, 'Loading templates');
		}
	}

	function render(list) {
		list.sort((a, b) => String(a.name).localeCompare(String(b.name)));
		gallery.replaceChildren(...list.map((t) => h('li', { class: 'gallery-item',
		    dataset: { templateId: String(t.id) } }, templateCard(t))));
		empty.hidden = list.length > 0;
	}

	function templateCard(t) {
		const nameId = `tpl-${t.id}-name`;
		return h('article', { class: ['card', 'tpl-card'], 'aria-labelledby': nameId },
		    h('header', { class: 'app-head' },
			h('h2', { id: nameId, class: 'app-name' }, t.name),
			h('span', { class: 'badge type' }, t.type || 'unknown')),
		    t.description ? h('p', { class: 'app-desc' }, t.description) :
			h('p', { class: 'app-desc muted' }, 'No description.'),
		    h('dl', { class: 'meta' },
			h('dt', null, 'VRAM'), h('dd', null, t.vram_required ? `${t.vram_required} MiB` : 'none'),
			t.created_at ? [h('dt', null, 'Added'), h('dd', null, timeEl(t.created_at))] : null),
		    h('div', { class: 'actions', role: 'group', 'aria-label': `Actions for template ${t.name}` },
			button('Deploy', { class: 'small primary', dataset: { action: 'deploy' },
			    'aria-label': `Deploy ${t.name}`, onclick: () => deploy(t) }, 'rocket'),
			button('Edit', { class: 'small', dataset: { action: 'edit' },
			    'aria-label': `Edit template ${t.name}`, onclick: () => edit(t) }, 'edit'),
			button('Delete', { class: 'small danger-ghost', dataset: { action: 'delete' },
			    'aria-label': `Delete template ${t.name}`, onclick: () => remove(t) }, 'trash')));
	}

	async function deploy(t) {
		const r = await formDialog({
			title: `Deploy ${t.name}`,
			description: 'The new app starts from a copy of this template.',
			fields: [
				field('App name', { name: 'name', id: 'deploy-name', value: suggestAppName(t), required: true,
				    pattern: APP_NAME_RE, maxlength: 63, autocapitalize: 'none', spellcheck: 'false' },
				    'Lowercase letters, digits, “_” and “-”; unique.'),
				field('VRAM (MiB)', { name: 'vram_required', type: 'number', min: 0, step: 1,
				    value: String(t.vram_required || 0) }),
			],
			submitLabel: 'Deploy',
			onSubmit: async (form) => {
				const body = { name: form.name.value.trim() };
				const v = parseInt(form.vram_required.value || '0', 10);
				if (v !== (t.vram_required || 0))
					body.vram_required = v;
				const res = await api('POST', `/deploy_template/${encodeURIComponent(t.id)}`, { json: body });
				return Object.assign({ name: body.name }, res || {});
			},
		});
		if (r) {
			toast(`Deploying ${r.name}. Follow it in My apps.`);
			announce(`Deploying ${r.name}.`);
			ctx.navigate('#/apps');
		}
	}

	async function edit(t) {
		const r = await formDialog({
			title: `Edit template ${t.name}`,
			fields: [
				field('Name', { name: 'name', value: t.name, required: true, maxlength: 64 }),
				field('Description', { tag: 'textarea', name: 'description', rows: 3, maxlength: 1024,
				    value: t.description || '' }),
				field('VRAM (MiB)', { name: 'vram_required', type: 'number', min: 0, step: 1,
				    value: String(t.vram_required || 0) }),
			],
			submitLabel: 'Save changes',
			onSubmit: async (form) => {
				await api('POST', '/edit_template', { json: {
					template_id: t.id, name: form.name.value.trim(),
					description: form.description.value,
					vram_required: parseInt(form.vram_required.value || '0', 10),
				} });
				return form.name.value.trim();
			},
		});
		if (r) {
			toast(`Saved template ${r}.`);
			load();
		}
	}

	async function remove(t) {
		if (!await confirmDialog(`Delete template ${t.name}?`,
		    'Apps deployed from it keep running. The template and its files are removed.', 'Delete template'))
			return;
		try {
			await api('DELETE', `/templates/${encodeURIComponent(t.id)}`);
			toast(`Deleted template ${t.name}.`);
		} catch (e) {
			errorToast(e, `Deleting ${t.name}`);
		}
		load();
	}

	load();
	return () => { stopped = true; };
}

function uploadForm(onDone, onClose) {
	let ctl = null;
	const progress = h('progress', { id: 'template-progress', max: 100, value: 0,
	    'aria-label': 'Template upload progress' });
	const progressText = h('p', { class: 'progress-text', id: 'template-progress-text' });
	const box = h('div', { class: 'progress-box', hidden: true }, progress, progressText);
	const err = h('p', { class: 'form-error', role: 'alert' });
	const form = h('form', { id: 'template-form', novalidate: true },
	    h('h2', { id: 'tpl-upload-title' }, 'Upload a template'),
	    h('div', { class: 'grid2' },
		field('Name', { name: 'name', id: 'tpl-name', required: true, maxlength: 64 }),
		field('VRAM (MiB)', { name: 'vram_required', id: 'tpl-vram', type: 'number', min: 0, step: 1, value: '0' })),
	    field('Description', { tag: 'textarea', name: 'description', id: 'tpl-description', rows: 2, maxlength: 1024 }),
	    field('File or archive', { type: 'file', name: 'file', id: 'tpl-file', required: true,
		accept: '.py,.zip,.tar,.tgz,.gz' }, 'Same formats as an app upload.'),
	    err, box,
	    h('div', { class: 'form-actions' },
		button('Close', { class: 'ghost', onclick: onClose }),
		button('Upload template', { type: 'submit', class: 'primary', id: 'tpl-submit' }, 'upload')));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		err.textContent = '';
		if (ctl || !form.reportValidity())
			return;
		const f = form.file.files[0];
		const fd = new FormData();
		fd.append('name', form.name.value.trim());
		if (form.description.value)
			fd.append('description', form.description.value);
		const v = parseInt(form.vram_required.value || '0', 10);
		if (v > 0)
			fd.append('vram_required', String(v));
		fd.append('file', f, f.name);
		ctl = new AbortController();
		box.hidden = false;
		progress.max = Math.max(1, f.size);
		progress.value = 0;
		try {
			await upload('/templates', fd, { signal: ctl.signal, onProgress: (loaded, total) => {
				total = total || f.size;
				progress.max = Math.max(1, total);
				progress.value = Math.min(loaded, total);
				progressText.textContent = `${bytes(loaded)} of ${bytes(total)} sent`;
			} });
			progress.value = progress.max;
			progressText.textContent = 'Uploaded.';
			toast(`Template ${form.name.value.trim()} uploaded.`);
			form.reset();
			onDone();
		} catch (e) {
			progressText.textContent = 'Upload failed.';
			err.textContent = e.detail || e.message;
		} finally {
			ctl = null;
		}
	});
	return form;
}
