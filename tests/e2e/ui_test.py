#!/usr/bin/python3
"""Browser test of the slipway web UI: chromium driven through chromedriver
over the W3C WebDriver HTTP protocol, with urllib only.

Run by tests/e2e/ui.sh against a stack it started.  Prints one line per
check, "PASS\t<name>" or "FAIL\t<name>", and "# ..." diagnostics; ui.sh
turns them into TAP.  Screenshots of the main screens go to --shots.

Every step runs even when an earlier one failed (it then fails fast and
says why): the report shows exactly which parts of the flow work.
"""
import argparse
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

ELEM = 'element-6066-11e4-a52e-4f735466cecf'
XSS_DESC = '<img src=x onerror=alert(1)><script>alert(2)</script>"><svg onload=alert(3)>'
XSS_TPL = '<img src=x onerror=alert(4)>'


class WebDriverError(Exception):
    def __init__(self, status, error, message):
        super().__init__(f'{error}: {message}')
        self.status, self.error, self.message = status, error, message


def say(line):
    print(line, flush=True)


def diag(msg):
    for part in str(msg).splitlines() or ['']:
        say('# ' + part)


class Driver:
    """The few WebDriver commands this test needs."""

    def __init__(self, port):
        self.base = f'http://127.0.0.1:{port}'
        self.sid = None

    def call(self, method, path, body=None, timeout=60):
        url = self.base + (f'/session/{self.sid}' if self.sid and not path.startswith('/session') else '') + path
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b'{}').get('value')
        except urllib.error.HTTPError as e:
            try:
                v = json.loads(e.read()).get('value', {})
            except ValueError:
                v = {}
            raise WebDriverError(e.code, v.get('error', 'unknown'), v.get('message', '')[:300])

    def start(self, chromium, profile, width=1280, height=900):
        args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
                '--disable-dev-shm-usage', f'--user-data-dir={profile}',
                f'--window-size={width},{height}', '--lang=en-US']
        caps = {'capabilities': {'alwaysMatch': {
            'browserName': 'chrome',
            'unhandledPromptBehavior': 'ignore',
            'goog:chromeOptions': {'binary': chromium, 'args': args},
            'goog:loggingPrefs': {'browser': 'ALL'},
        }}}
        v = self.call('POST', '/session', caps, timeout=90)
        self.sid = v['sessionId']

    def quit(self):
        if self.sid:
            try:
                self.call('DELETE', '', timeout=20)
            except Exception:
                pass
            self.sid = None

    # navigation and scripts
    def get(self, url):
        self.call('POST', '/url', {'url': url})

    def js(self, script, *args):
        conv = [{ELEM: a.id} if isinstance(a, El) else a for a in args]
        v = self.call('POST', '/execute/sync', {'script': script, 'args': conv})
        return self._wrap(v)

    def js_async(self, script, *args):
        conv = [{ELEM: a.id} if isinstance(a, El) else a for a in args]
        return self._wrap(self.call('POST', '/execute/async', {'script': script, 'args': conv}))

    def _wrap(self, v):
        if isinstance(v, dict) and ELEM in v:
            return El(self, v[ELEM])
        if isinstance(v, list):
            return [self._wrap(x) for x in v]
        return v

    def find(self, css):
        try:
            v = self.call('POST', '/element', {'using': 'css selector', 'value': css})
            return El(self, v[ELEM])
        except WebDriverError as e:
            if e.error == 'no such element':
                return None
            raise

    def find_all(self, css):
        v = self.call('POST', '/elements', {'using': 'css selector', 'value': css})
        return [El(self, x[ELEM]) for x in v]

    def screenshot(self, path):
        png = base64.b64decode(self.call('GET', '/screenshot'))
        with open(path, 'wb') as f:
            f.write(png)

    def alert_text(self):
        try:
            return self.call('GET', '/alert/text')
        except WebDriverError as e:
            if e.error == 'no such alert':
                return None
            raise

    def dismiss_alert(self):
        try:
            self.call('POST', '/alert/dismiss')
        except WebDriverError:
            pass

    def windows(self):
        return self.call('GET', '/window/handles')

    def window(self):
        return self.call('GET', '/window')

    def switch(self, handle):
        self.call('POST', '/window', {'handle': handle})

    def close_window(self):
        return self.call('DELETE', '/window')

    def set_rect(self, w, h):
        self.call('POST', '/window/rect', {'width': w, 'height': h})

    def browser_log(self):
        try:
            return self.call('POST', '/se/log', {'type': 'browser'}) or []
        except WebDriverError:
            return []

    def active(self):
        return El(self, self.call('GET', '/element/active')[ELEM])


class El:
    def __init__(self, d, id):
        self.d, self.id = d, id

    def click(self):
        try:
            self.d.call('POST', f'/element/{self.id}/click', {})
        except WebDriverError as e:
            # A toast may cover the target: click it the way a script does.
            if e.error in ('element click intercepted', 'element not interactable'):
                self.d.js('arguments[0].scrollIntoView({block:"center"}); arguments[0].click();', self)
            else:
                raise

    def send(self, text):
        self.d.call('POST', f'/element/{self.id}/value', {'text': text})

    def clear(self):
        self.d.call('POST', f'/element/{self.id}/clear', {})

    def text(self):
        return self.d.call('GET', f'/element/{self.id}/text')

    def prop(self, name):
        return self.d.call('GET', f'/element/{self.id}/property/{name}')

    def attr(self, name):
        return self.d.call('GET', f'/element/{self.id}/attribute/{name}')


def wait(fn, timeout=10.0, interval=0.2):
    end = time.time() + timeout
    last = None
    while True:
        try:
            last = fn()
        except WebDriverError:
            last = None
        if last:
            return last
        if time.time() >= end:
            return last
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_busybox_zip(path, name):
    """A Dockerfile app: FROM scratch + static busybox serving /www on $PORT."""
    dockerfile = (
        'FROM scratch\n'
        'COPY busybox /bin/busybox\n'
        'COPY www /www\n'
        'CMD ["/bin/busybox","sh","-c","exec /bin/busybox httpd -f -v -p $PORT -h /www"]\n')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('Dockerfile', dockerfile)
        info = zipfile.ZipInfo('busybox', date_time=(2024, 1, 1, 0, 0, 0))
        info.external_attr = (0o100755 << 16)
        info.compress_type = zipfile.ZIP_DEFLATED
        with open('/bin/busybox', 'rb') as f:
            z.writestr(info, f.read())
        z.writestr('www/index.html', f'<!doctype html><title>{name}</title><h1>hello from {name}</h1>\n')
    return os.path.getsize(path)


class UITest:
    def __init__(self, args):
        self.a = args
        self.base = args.base.rstrip('/') + '/'
        self.d = None
        self.shot_n = 0
        self.failed = 0
        self.user = 'ui' + os.urandom(3).hex()
        self.password = 'ui-pass-' + os.urandom(4).hex()
        self.app = 'uiapp'
        self.deployed = 'uideployed'
        self.tpl = 'uitpl'
        self.xss_app = 'uixss'
        self.work = tempfile.mkdtemp(prefix='slipway-ui-')
        self.zip_path = os.path.join(self.work, 'uiapp.zip')
        self.zip_size = make_busybox_zip(self.zip_path, self.app)
        self.xss_zip = os.path.join(self.work, 'uixss.zip')
        make_busybox_zip(self.xss_zip, self.xss_app)

    # ---- reporting ----
    def check(self, cond, name, why=''):
        if cond:
            say(f'PASS\t{name}')
        else:
            self.failed += 1
            say(f'FAIL\t{name}')
            if why:
                diag('  ' + str(why))
        return bool(cond)

    def shot(self, label):
        self.shot_n += 1
        path = os.path.join(self.a.shots, f'{self.shot_n:02d}-{label}.png')
        try:
            self.d.screenshot(path)
        except Exception as e:
            diag(f'screenshot {label} failed: {e}')

    def toasts(self):
        return self.d.js('return Array.from(document.querySelectorAll(".toast p")).map(e => e.textContent)') or []

    def last_error(self):
        errs = self.d.js('return Array.from(document.querySelectorAll('
                         '".toast-error p, .form-error, .dialog-error, #upload-progress-text"))'
                         '.map(e => e.textContent).filter(Boolean)') or []
        return ' | '.join(errs)[-400:]

    # ---- page helpers ----
    def goto(self, hash_):
        self.d.get(self.base + hash_)

    def fill(self, css, text, clear=True):
        el = wait(lambda: self.d.find(css), 5)
        if not el:
            raise RuntimeError(f'no element {css}')
        if clear:
            el.clear()
        el.send(text)
        return el

    def click(self, css, timeout=5):
        el = wait(lambda: self.d.find(css), timeout)
        if not el:
            raise RuntimeError(f'no element {css}')
        el.click()
        return el

    def card(self, name):
        return self.d.js('''
            for (const li of document.querySelectorAll("#app-list > li")) {
                const n = li.querySelector(".app-name");
                if (n && n.textContent === arguments[0]) return li;
            }
            return null;''', name)

    def app_status(self, name):
        return self.d.js('''
            for (const li of document.querySelectorAll("#app-list > li")) {
                const n = li.querySelector(".app-name");
                if (n && n.textContent === arguments[0]) {
                    const b = li.querySelector(".badge");
                    const r = li.querySelector(".reason, .detail");
                    return [b ? b.dataset.status : "", r ? r.textContent : ""];
                }
            }
            return null;''', name)

    def app_action(self, name, action):
        return self.d.js('''
            for (const li of document.querySelectorAll("#app-list > li")) {
                const n = li.querySelector(".app-name");
                if (n && n.textContent === arguments[0])
                    return li.querySelector('[data-action="' + arguments[1] + '"]');
            }
            return null;''', name, action)

    def wait_status(self, name, want, timeout):
        seen = []

        def probe():
            s = self.app_status(name)
            if s and (not seen or seen[-1] != s[0]):
                seen.append(s[0])
            if s and s[0] in want:
                return s
            if s and s[0] == 'error' and 'error' not in want:
                return s
            return None
        if not self.card(name):
            return None, seen
        s = wait(probe, timeout, 0.5)
        return s, seen

    def dialog_fill(self, values):
        dlg = wait(lambda: self.d.find('dialog[open]'), 5)
        if not dlg:
            raise RuntimeError('no dialog opened')
        for name, val in values.items():
            el = self.d.find(f'dialog[open] [name="{name}"]')
            if not el:
                raise RuntimeError(f'dialog has no field {name}')
            el.clear()
            el.send(val)
        return dlg

    def dialog_submit(self):
        self.click('dialog[open] [data-action="dialog-submit"]')

    def dialog_gone(self, timeout=15):
        return wait(lambda: self.d.find('dialog[open]') is None, timeout)

    def close_dialogs(self):
        self.d.js('document.querySelectorAll("dialog[open]").forEach(d => d.close())')

    def no_xss(self):
        """No alert opened and no element an injected payload would create."""
        alert = self.d.alert_text()
        if alert is not None:
            self.d.dismiss_alert()
        injected = self.d.js('return document.querySelectorAll('
                             '"img[src=\\"x\\"], main script, svg[onload], [onerror]").length')
        return alert, injected

    # ---- the flow ----
    def step(self, name, fn):
        try:
            fn()
        except (WebDriverError, RuntimeError, urllib.error.URLError, TypeError, KeyError) as e:
            self.check(False, name, f'{type(e).__name__}: {e}')
            try:
                self.close_dialogs()
            except Exception:
                pass

    def run(self):
        chromedriver = self.a.chromedriver
        port = free_port()
        log = open(os.path.join(self.a.shots, '..', 'chromedriver.log'), 'w') \
            if os.path.isdir(os.path.join(self.a.shots, '..')) else subprocess.DEVNULL
        cd = subprocess.Popen([chromedriver, f'--port={port}'], stdout=log, stderr=subprocess.STDOUT)
        profile = tempfile.mkdtemp(prefix='slipway-ui-profile-')
        try:
            ready = wait(lambda: self._driver_ready(port), 20, 0.1)
            if not self.check(ready, 'chromedriver answers'):
                return
            self.d = Driver(port)
            try:
                self.d.start(self.a.chromium, profile)
            except (WebDriverError, urllib.error.URLError, OSError) as e:
                self.check(False, 'chromium session starts', e)
                return
            self.check(True, 'chromium session starts')
            self.flow()
        finally:
            if self.d:
                self.d.quit()
            cd.terminate()
            try:
                cd.wait(10)
            except subprocess.TimeoutExpired:
                cd.kill()
            shutil.rmtree(profile, ignore_errors=True)
            shutil.rmtree(self.work, ignore_errors=True)

    @staticmethod
    def _driver_ready(port):
        try:
            with urllib.request.urlopen(f'http://127.0.0.1:{port}/status', timeout=1) as r:
                return json.loads(r.read())['value'].get('ready')
        except (OSError, ValueError, KeyError):
            return False

    def flow(self):
        d = self.d
        for name in ('page', 'register', 'login', 'badges', 'upload', 'appears', 'running', 'open', 'logs',
                     'stop', 'restart', 'edit', 'save_template', 'deploy', 'delete', 'delete_template',
                     'polling', 'xss',
                     'admin', 'phone', 'keyboard', 'logout', 'unauthorized', 'console'):
            getattr(self, 't_' + name)()

    def t_page(self):
        def f():
            self.d.get(self.base)
            form = wait(lambda: self.d.find('#login-form'), 10)
            self.check(form, 'the page loads and shows the login form',
                       f'title={self.d.js("return document.title")!r}')
            csp = self.d.js('return !!document.querySelector("script[type=module][src]") && '
                            'document.querySelectorAll("script:not([src]), [style]").length === 0')
            self.check(csp, 'no inline scripts or style attributes in the page')
            self.shot('login')
        self.step('the page loads', f)

    def t_register(self):
        def f():
            self.click('a[href="#/register"]')
            self.fill('#register-username', self.user)
            self.fill('#register-password', self.password)
            self.fill('#register-password2', self.password)
            self.shot('register')
            self.click('#register-submit')
            ok = wait(lambda: self.d.find('#apps-title'), 10)
            self.check(ok, f'register {self.user} and land on My apps', self.last_error())
            who = self.d.js('return document.getElementById("whoami").textContent')
            self.check(who == self.user, 'the header names the user', f'whoami={who!r}')
            self.check(self.d.js('return !!localStorage.getItem("slipway.token")'),
                       'the token is kept in localStorage')
            wait(lambda: self.d.js('return !document.getElementById("apps-empty").hidden'), 5)
            self.shot('apps-empty')
        self.step(f'register {self.user}', f)

    def t_login(self):
        def f():
            self.click('#btn-logout')
            self.check(wait(lambda: self.d.find('#login-form'), 5), 'log out returns to the login form')
            self.fill('#login-username', self.user)
            self.fill('#login-password', 'wrong-password-1')
            self.click('#login-submit')
            err = wait(lambda: self.d.js('return document.getElementById("login-error").textContent'), 5)
            self.check(err, 'a wrong password shows the API error', err)
            self.fill('#login-password', self.password)
            self.click('#login-submit')
            self.check(wait(lambda: self.d.find('#apps-title'), 10), 'log in with the new account',
                       self.last_error())
        self.step('login', f)

    def t_badges(self):
        def f():
            # Every state renders as a labelled badge; error shows its reason
            # (as text).  Rendered by the UI's own card code, no backend needed.
            r = self.d.js_async('''
                const done = arguments[arguments.length - 1];
                import("/static/apps.js").then((m) => {
                    const out = {};
                    for (const st of ["queued", "building", "starting", "running", "stopping",
                                      "stopped", "error", "finished"]) {
                        const el = m.renderAppCard({id: "abcdefabcdef", name: "x-" + st,
                            description: "", type: "docker", status: st,
                            status_detail: st === "error" ? "exit 1: <b>boom</b>" : "",
                            url: "/apps/abcdefabcdef/", gpus: [0], vram_required: 0,
                            allow_ips: [], has_auth_header: false, created_at: 0});
                        document.body.appendChild(el);
                        const b = el.querySelector(".badge");
                        const reason = el.querySelector(".reason");
                        out[st] = [b.dataset.status, b.textContent, getComputedStyle(b).backgroundColor,
                                   reason ? reason.textContent : null,
                                   !!el.querySelector("[data-action=open]"),
                                   el.querySelector("b") !== null];
                        el.remove();
                    }
                    done(out);
                }).catch((e) => done({failed: String(e)}));''')
            if not self.check(isinstance(r, dict) and 'failed' not in r, 'the app card module loads', r):
                return
            for st, (ds, text, bg, reason, has_open, injected) in r.items():
                self.check(ds == st and text.lower() == st, f'the {st} state shows a "{text}" badge', (ds, text))
            self.check(len({v[2] for v in r.values()}) >= 5, 'the states have distinct badge colours',
                       {k: v[2] for k, v in r.items()})
            self.check(r['error'][3] == 'Reason: exit 1: <b>boom</b>' and not r['error'][5],
                       'an error shows its reason, as text', r['error'][3])
            self.check(r['running'][4] and not any(v[4] for k, v in r.items() if k != 'running'),
                       'only a running app offers Open')
        self.step('badges', f)

    def t_upload(self):
        def f():
            self.click('#btn-new-app')
            self.fill('#app-name', self.app)
            self.fill('#app-description', 'busybox httpd, uploaded by the browser test')
            # drag and drop: a synthetic drop of a File puts it in the form
            dropped = self.d.js('''
                const dt = new DataTransfer();
                dt.items.add(new File(["print(1)\\n"], "dropped_app.py", {type: "text/x-python"}));
                const z = document.getElementById("dropzone");
                z.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
                z.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
                return document.getElementById("app-file-chosen").textContent;''')
            self.check(dropped and 'dropped_app.py' in dropped, 'dropping a file on the box selects it', dropped)
            self.click('#create-advanced > summary')
            self.click('#btn-add-env')
            self.fill('#env-list li:last-child .env-key', 'GREETING')
            self.fill('#env-list li:last-child .env-value', 'hello world')
            # the file picker (replaces the dropped file)
            self.d.find('#app-file').send(self.zip_path)
            chosen = self.d.js('return document.getElementById("app-file-chosen").textContent')
            self.check(chosen and 'uiapp.zip' in chosen, 'the file picker selects the zip', chosen)
            self.shot('create-form')
            self.click('#create-submit')
            res = wait(lambda: self.d.js('''
                const p = document.getElementById("upload-progress");
                const box = document.getElementById("upload-status");
                if (box.classList.contains("done") || box.classList.contains("failed"))
                    return [p.value, p.max, p.dataset.percent || "", box.className,
                            document.getElementById("upload-progress-text").textContent];
                return null;'''), 60)
            if not res:
                self.check(False, 'the upload finishes', 'no answer within 60 s')
                return
            value, mx, pct, cls, text = res
            diag(f'upload progress: value={value} max={mx} percent={pct} text={text!r}')
            self.check('done' in cls, 'the upload is accepted (202)', text)
            self.check(mx >= self.zip_size and value == mx and pct == '100',
                       'the progress bar reaches 100% of the bytes sent',
                       f'value={value} max={mx} zip={self.zip_size}')
            self.shot('uploaded')
        self.step('upload', f)

    def t_appears(self):
        def f():
            c = wait(lambda: self.card(self.app), 10)
            self.check(c, f'{self.app} appears in the list', self.last_error())
        self.step('appears', f)

    def t_running(self):
        def f():
            s, seen = self.wait_status(self.app, ('running',), self.a.run_timeout)
            diag(f'statuses seen: {" -> ".join(seen) or "none"}')
            self.check(s and s[0] == 'running', f'{self.app} goes to running',
                       f'last={s} {self.last_error()}')
            self.shot('running')
        self.step('running', f)

    def t_open(self):
        def f():
            a = self.app_action(self.app, 'open')
            if not self.check(a, 'a running app shows an Open link'):
                return
            href = a.attr('href')
            diag(f'app URL: {href}')
            self.check(href and href.startswith(self.a.apps_base.rstrip('/') + '/apps/'),
                       'the link points at the apps site', f'{href} vs {self.a.apps_base}')
            self.check(a.attr('rel') and 'noopener' in a.attr('rel'), 'the link opens with noopener')
            main = self.d.window()
            before = set(self.d.windows())
            a.click()
            new = wait(lambda: [w for w in self.d.windows() if w not in before], 10)
            if not self.check(new, 'Open opens a new tab'):
                return
            self.d.switch(new[0])
            body = wait(lambda: (lambda t: t if 'hello from' in (t or '') else None)(
                self.d.js('return document.body ? document.body.innerText : ""')), 20, 0.5)
            self.check(body and f'hello from {self.app}' in body, 'the app answers at its URL',
                       repr(self.d.js('return document.body ? document.body.innerText.slice(0,200) : ""')))
            self.shot('app-page')
            self.d.close_window()
            self.d.switch(main)
        self.step('open', f)

    def t_logs(self):
        def f():
            b = self.app_action(self.app, 'logs')
            if not self.check(b, 'the app has a Logs button'):
                return
            b.click()
            txt = wait(lambda: self.d.js('const o = document.getElementById("log-output");'
                                         'return o && o.textContent.trim() ? o.textContent : null'), 15)
            self.check(txt, 'the log viewer shows the log',
                       self.d.js('const s = document.getElementById("log-state"); return s && s.textContent'))
            if txt:
                diag('log tail: ' + txt.strip().splitlines()[-1][:200])
            live = self.d.js('const s = document.getElementById("log-state"); return s && s.textContent')
            self.check(live and 'Following' in live, 'the viewer follows the live log', live)
            self.click('#log-pause')
            self.check(self.d.js('return document.getElementById("log-pause").getAttribute("aria-pressed")') == 'true',
                       'auto-scroll can be paused')
            self.shot('logs')
            self.click('#log-close')
            self.check(self.dialog_gone(5), 'the log viewer closes')
        self.step('logs', f)

    def t_stop(self):
        def f():
            b = self.app_action(self.app, 'stop')
            if not self.check(b, 'the running app has a Stop button'):
                return
            b.click()
            s, seen = self.wait_status(self.app, ('stopped',), 60)
            diag(f'statuses seen: {" -> ".join(seen)}')
            self.check(s and s[0] == 'stopped', f'{self.app} stops', f'last={s} {self.last_error()}')
            self.shot('stopped')
        self.step('stop', f)

    def t_restart(self):
        def f():
            b = self.app_action(self.app, 'restart')
            if not self.check(b, 'the stopped app has a Restart button'):
                return
            b.click()
            s, seen = self.wait_status(self.app, ('running',), self.a.run_timeout)
            diag(f'statuses seen: {" -> ".join(seen)}')
            self.check(s and s[0] == 'running', f'{self.app} runs again after restart',
                       f'last={s} {self.last_error()}')
        self.step('restart', f)

    def t_edit(self):
        def f():
            b = self.app_action(self.app, 'edit')
            if not self.check(b, 'the app has an Edit button'):
                return
            b.click()
            self.dialog_fill({'description': 'edited by the browser test', 'allow_ips': '127.0.0.1, ::1'})
            self.shot('edit-dialog')
            self.dialog_submit()
            gone = self.dialog_gone(10)
            self.check(gone, 'the edit dialog saves', self.last_error())
            if not gone:
                self.close_dialogs()
            desc = wait(lambda: self.d.js('''
                for (const li of document.querySelectorAll("#app-list > li")) {
                    const n = li.querySelector(".app-name");
                    if (n && n.textContent === arguments[0]) {
                        const p = li.querySelector(".app-desc");
                        return p && p.textContent === "edited by the browser test" ? p.textContent : null;
                    }
                }
                return null;''', self.app), 15)
            self.check(desc, 'the edited description shows in the list')
        self.step('edit', f)

    def t_save_template(self):
        def f():
            b = self.app_action(self.app, 'template')
            if not self.check(b, 'the app has a Save as template button'):
                return
            b.click()
            self.dialog_fill({'name': self.tpl, 'description': 'saved by the browser test'})
            self.dialog_submit()
            gone = self.dialog_gone(15)
            self.check(gone, f'save {self.app} as template {self.tpl}', self.last_error())
            if not gone:
                self.close_dialogs()
            self.click('#nav a[data-route="templates"]')
            card = wait(lambda: self.d.js('''
                for (const li of document.querySelectorAll("#template-list > li"))
                    if (li.querySelector(".app-name").textContent === arguments[0]) return li;
                return null;''', self.tpl), 10)
            self.check(card, 'the template shows in the gallery',
                       self.d.js('const s = document.getElementById("templates-state"); return s && s.textContent'))
            self.shot('templates')
        self.step('save as template', f)

    def tpl_action(self, name, action):
        return self.d.js('''
            for (const li of document.querySelectorAll("#template-list > li"))
                if (li.querySelector(".app-name").textContent === arguments[0])
                    return li.querySelector('[data-action="' + arguments[1] + '"]');
            return null;''', name, action)

    def t_deploy(self):
        def f():
            if not self.d.find('#templates-title'):
                self.goto('#/templates')
            b = wait(lambda: self.tpl_action(self.tpl, 'deploy'), 10)
            if not self.check(b, 'the template has a Deploy button'):
                return
            b.click()
            self.dialog_fill({'name': self.deployed})
            self.shot('deploy-dialog')
            self.dialog_submit()
            gone = self.dialog_gone(15)
            self.check(gone, f'deploy {self.tpl} as {self.deployed}', self.last_error())
            if not gone:
                self.close_dialogs()
                self.goto('#/apps')
            c = wait(lambda: self.card(self.deployed), 10)
            self.check(c, f'{self.deployed} appears in My apps')
            s, seen = self.wait_status(self.deployed, ('running',), self.a.run_timeout)
            diag(f'statuses seen: {" -> ".join(seen) or "none"}')
            self.check(s and s[0] == 'running', f'{self.deployed} goes to running', f'last={s}')
            self.shot('apps-two')
        self.step('deploy', f)

    def delete_app(self, name):
        b = self.app_action(name, 'remove')
        if not self.check(b, f'{name} has a Delete button'):
            return
        b.click()
        dlg = wait(lambda: self.d.find('dialog[open]'), 5)
        self.check(dlg, 'delete asks in a dialog')
        if not dlg:
            return
        # cancel first: nothing happens
        self.click('dialog[open] [data-action="dialog-cancel"]')
        self.check(self.dialog_gone(5) and self.card(name), 'cancelling keeps the app')
        self.app_action(name, 'remove').click()
        wait(lambda: self.d.find('dialog[open]'), 5)
        if name == self.app:
            self.shot('delete-confirm')
        self.dialog_submit()
        gone = wait(lambda: self.card(name) is None, 30, 0.5)
        self.check(gone, f'{name} is deleted and leaves the list', self.last_error())

    def t_delete(self):
        def f():
            if not self.d.find('#apps-title'):
                self.goto('#/apps')
            wait(lambda: self.card(self.app), 10)
            self.delete_app(self.app)
            self.delete_app(self.deployed)
        self.step('delete both apps', f)

    def t_delete_template(self):
        def f():
            self.goto('#/templates')
            wait(lambda: self.d.find('#template-list'), 5)
            b = wait(lambda: self.tpl_action(self.tpl, 'delete'), 10)
            if not self.check(b, f'template {self.tpl} has a Delete button'):
                return
            b.click()
            self.check(wait(lambda: self.d.find('dialog[open]'), 5), 'deleting a template asks in a dialog')
            self.dialog_submit()
            self.check(wait(lambda: self.tpl_action(self.tpl, 'delete') is None, 10),
                       f'template {self.tpl} is deleted from the gallery', self.last_error())
        self.step('delete the template', f)

    def t_polling(self):
        def f():
            # Count GET /status while the list is steady, then while the tab
            # is hidden: the UI must not hammer the server.
            if not self.d.find('#apps-title'):
                self.goto('#/apps')
            wait(lambda: self.d.find('#apps-title'), 5)
            self.d.js('''
                window.__statusCalls = 0;
                if (!window.__origFetch) window.__origFetch = window.fetch;
                window.fetch = function (u, o) {
                    if (String(u).startsWith("/status")) window.__statusCalls++;
                    return window.__origFetch.call(this, u, o);
                };''')
            time.sleep(6)
            n = self.d.js('return window.__statusCalls')
            self.check(n is not None and n <= 2, 'at most 2 status polls in 6 s while nothing moves', n)
            self.d.js('''
                Object.defineProperty(document, "hidden", {value: true, configurable: true});
                document.dispatchEvent(new Event("visibilitychange"));
                window.__statusCalls = 0;''')
            time.sleep(11)
            n = self.d.js('return window.__statusCalls')
            self.check(n == 0, 'no polling while the tab is hidden (11 s)', n)
            self.d.js('''
                delete document.hidden;
                document.dispatchEvent(new Event("visibilitychange"));''')
            n = wait(lambda: self.d.js('return window.__statusCalls'), 3)
            self.check(n and n >= 1, 'polling resumes at once when the tab shows again', n)
            self.d.js('window.fetch = window.__origFetch')
        self.step('polling', f)

    def t_xss(self):
        def f():
            self.goto('#/new')
            wait(lambda: self.d.find('#create-form'), 5)
            # 1. a payload as the name: rejected, and the error renders as text
            self.fill('#app-name', XSS_TPL)
            self.d.find('#app-file').send(self.xss_zip)
            # the browser's own pattern check stops it: bypass it as an attacker would
            self.d.js('document.getElementById("app-name").removeAttribute("pattern")')
            self.click('#create-submit')
            shown = wait(lambda: self.d.js('return document.getElementById("create-error").textContent'), 15)
            diag(f'error shown for the payload name: {shown!r}')
            alert, injected = self.no_xss()
            self.check(shown and alert is None and injected == 0,
                       'a payload as the app name is refused and runs nothing',
                       f'alert={alert!r} injected={injected} error={shown!r}')
            # 2. a payload as the description: accepted and shown as text
            self.fill('#app-name', self.xss_app)
            self.fill('#app-description', XSS_DESC)
            self.d.find('#app-file').send(self.xss_zip)
            self.click('#create-submit')
            c = wait(lambda: self.card(self.xss_app), 20)
            if not self.check(c, 'an app with a payload description is listed', self.last_error()):
                self.check(False, 'the payload description shows as literal text', 'the upload failed')
                return
            time.sleep(1)
            alert, injected = self.no_xss()
            shown = self.d.js('''
                for (const li of document.querySelectorAll("#app-list > li"))
                    if (li.querySelector(".app-name").textContent === arguments[0])
                        return li.querySelector(".app-desc") ? li.querySelector(".app-desc").textContent : "";
                return null;''', self.xss_app)
            self.check(alert is None and injected == 0, 'the payload description runs nothing',
                       f'alert={alert!r} injected={injected}')
            self.check(shown == XSS_DESC, 'the payload description shows as literal text', repr(shown))
            if c:
                self.d.js('arguments[0].scrollIntoView({block: "center"})', c)
            self.shot('xss')
            # 3. a payload as a template name (accepted or refused: never run)
            b = self.app_action(self.xss_app, 'template')
            if b:
                b.click()
                self.dialog_fill({'name': XSS_TPL, 'description': XSS_DESC})
                self.dialog_submit()
                time.sleep(1.5)
                self.close_dialogs()
                self.goto('#/templates')
                wait(lambda: self.d.find('#template-list'), 5)
                time.sleep(1)
                alert, injected = self.no_xss()
                self.check(alert is None and injected == 0, 'a payload template name runs nothing',
                           f'alert={alert!r} injected={injected}')
                tpl = self.tpl_action(XSS_TPL, 'delete')
                if tpl:
                    diag('the API accepted the payload template name; it renders as text')
                    tpl.click()
                    wait(lambda: self.d.find('dialog[open]'), 5)
                    self.dialog_submit()
                    wait(lambda: self.tpl_action(XSS_TPL, 'delete') is None, 10)
            else:
                self.check(False, 'a payload template name runs nothing', 'no app to save from')
            self.goto('#/apps')
            if wait(lambda: self.card(self.xss_app), 10):
                b = self.app_action(self.xss_app, 'remove')
                b.click()
                wait(lambda: self.d.find('dialog[open]'), 5)
                self.dialog_submit()
                wait(lambda: self.card(self.xss_app) is None, 30, 0.5)
        self.step('xss', f)

    def t_admin(self):
        def f():
            self.check(self.d.js('return document.getElementById("nav-admin").hidden'),
                       'a plain user sees no Admin entry')
            self.click('#btn-logout')
            wait(lambda: self.d.find('#login-form'), 5)
            self.fill('#login-username', 'admin')
            self.fill('#login-password', self.a.admin_password)
            self.click('#login-submit')
            if not self.check(wait(lambda: self.d.find('#apps-title'), 10), 'admin logs in', self.last_error()):
                return
            self.check(not self.d.js('return document.getElementById("nav-admin").hidden'),
                       'the admin sees the Admin entry')
            self.click('#nav-admin')
            row = wait(lambda: self.d.js('return document.querySelector(\'#users-table tr[data-user-id] th\') ? '
                                          'Array.from(document.querySelectorAll("#users-table tbody th"))'
                                          '.map(e => e.textContent) : null'), 10)
            self.check(row and self.user in row and 'admin' in row, 'the users table lists the users', row)
            gpus = wait(lambda: self.d.find('#gpus-table') or self.d.find('#gpus-none'), 10)
            self.check(gpus, 'the GPU inventory shows', self.d.js(
                'return document.getElementById("admin-gpus-body").textContent'))
            conts = wait(lambda: self.d.find('#containers-table') or self.d.js(
                'return /No containers/.test(document.getElementById("admin-containers-body").textContent)'), 10)
            self.check(conts, 'the containers list shows', self.d.js(
                'return document.getElementById("admin-containers-body").textContent.slice(0, 200)'))
            self.shot('admin')
            # reset the test user's password, then prove it with a login
            b = self.d.js('''
                for (const tr of document.querySelectorAll("#users-table tbody tr"))
                    if (tr.querySelector("th").textContent === arguments[0])
                        return tr.querySelector("button");
                return null;''', self.user)
            if not self.check(b, 'the user has a Reset password button'):
                return
            b.click()
            self.password = 'ui-reset-' + os.urandom(4).hex()
            self.dialog_fill({'new_password': self.password})
            self.dialog_submit()
            self.check(self.dialog_gone(10), 'reset the password of the test user', self.last_error())
            self.click('#btn-logout')
            wait(lambda: self.d.find('#login-form'), 5)
            self.fill('#login-username', self.user)
            self.fill('#login-password', self.password)
            self.click('#login-submit')
            self.check(wait(lambda: self.d.find('#apps-title'), 10),
                       'the user logs in with the reset password', self.last_error())
        self.step('admin', f)

    def t_phone(self):
        def f():
            self.d.set_rect(360, 740)
            time.sleep(0.5)
            self.goto('#/apps')
            wait(lambda: self.d.find('#apps-title'), 5)
            time.sleep(0.5)
            w = self.d.js('return [document.documentElement.scrollWidth, window.innerWidth]')
            self.check(w and w[0] <= w[1], 'no horizontal scrolling at phone width', w)
            self.click('#btn-new-app')
            time.sleep(0.3)
            w = self.d.js('return [document.documentElement.scrollWidth, window.innerWidth]')
            self.check(w and w[0] <= w[1], 'the create form fits a phone', w)
            self.shot('phone')
            self.d.set_rect(1280, 900)
        self.step('phone width', f)

    def t_keyboard(self):
        def f():
            self.goto('#/apps')
            self.d.call('POST', '/refresh', {})
            wait(lambda: self.d.find('#apps-title'), 5)
            tab = '\ue004'
            # Tab from the top reaches the skip link, then the navigation
            self.d.call('POST', '/actions', {'actions': [{'type': 'key', 'id': 'kbd', 'actions': [
                {'type': 'keyDown', 'value': tab}, {'type': 'keyUp', 'value': tab}]}]})
            first = self.d.js('return document.activeElement.id')
            self.check(first == 'skip-link', 'Tab first reaches the skip link', first)
            ring = self.d.js('const s = getComputedStyle(document.activeElement);'
                             'return s.outlineStyle !== "none" && s.outlineWidth !== "0px"')
            self.check(ring, 'the focused element shows a visible focus ring')
            labels = self.d.js('''
                const bad = [];
                for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
                    const ok = (el.labels && el.labels.length) || el.getAttribute("aria-label") ||
                        el.getAttribute("aria-labelledby");
                    if (!ok) bad.push(el.outerHTML.slice(0, 80));
                }
                return bad;''')
            self.check(labels == [], 'every form control has a label', labels)
            self.check(self.d.js('return document.querySelector("[aria-live], [role=status], [role=alert]") !== null'),
                       'status changes have a live region')
        self.step('keyboard', f)

    def t_logout(self):
        def f():
            self.click('#btn-logout')
            self.check(wait(lambda: self.d.find('#login-form'), 5), 'log out shows the login form')
            self.check(self.d.js('return localStorage.getItem("slipway.token")') is None,
                       'log out forgets the token')
            self.shot('logged-out')
        self.step('logout', f)

    def t_unauthorized(self):
        def f():
            self.d.js('localStorage.setItem("slipway.token", "not-a-valid-token");'
                      'localStorage.setItem("slipway.expires_at", String(Date.now() / 1000 + 3600));')
            self.goto('#/templates')
            self.d.call('POST', '/refresh', {})
            self.check(wait(lambda: self.d.find('#login-form'), 10), 'a rejected token (401) returns to login')
        self.step('401', f)

    def t_console(self):
        def f():
            logs = self.d.browser_log()
            csp = [e.get('message', '') for e in logs if 'Content Security Policy' in e.get('message', '')]
            self.check(not csp, 'no Content-Security-Policy violations', '\n'.join(csp[:5]))
            errs = [e.get('message', '') for e in logs
                    if e.get('level') == 'SEVERE' and 'Uncaught' in e.get('message', '')]
            self.check(not errs, 'no uncaught script errors', '\n'.join(errs[:5]))
        self.step('console', f)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--base', required=True, help='control site, e.g. http://127.0.0.1:8000/')
    p.add_argument('--apps-base', required=True, help='apps site, e.g. http://127.0.0.1:8080')
    p.add_argument('--admin-password', required=True)
    p.add_argument('--shots', required=True, help='directory for screenshots')
    p.add_argument('--chromium', default='/usr/bin/chromium')
    p.add_argument('--chromedriver', default='/usr/bin/chromedriver')
    p.add_argument('--run-timeout', type=float, default=120.0)
    a = p.parse_args()
    os.makedirs(a.shots, exist_ok=True)
    t = UITest(a)
    t.run()
    return 1 if t.failed else 0


if __name__ == '__main__':
    sys.exit(main())
