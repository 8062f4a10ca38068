// The moxd web interfaces' script: calls the JSON API with the session's
// CSRF token, logs in (LoginPrep, then Login), and when a call fails
// because there is no valid session it shows the login form and, after
// the login, makes the failed calls again. Everything else is rendered
// on the server; after a change the page is loaded again.
//
// Compiled with `tsc -p web/assets` to app.js, which is committed: no
// npm is needed to build or run moxd.

type ApiErrorBody = { code: string; message: string };

class ApiError extends Error {
  code: string;
  constructor(e: ApiErrorBody) {
    super(e.message);
    this.code = e.code;
  }
}

const body = document.body;
const iface: string = body.dataset.interface || 'account';
const root: string = body.dataset.root || '/';
const csrfKey = 'moxd-csrf-' + iface;
const admin = iface === 'admin';

// Calls that failed for want of a session, made again after a login.
let retries: Array<() => Promise<void>> = [];

function setStatus(text: string, error = false): void {
  const el = document.getElementById('status');
  if (!el) {
    return;
  }
  el.textContent = text;
  el.classList.toggle('error', error);
}

// One API call without any retry logic.
async function raw(method: string, params: object): Promise<unknown> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  const csrf = localStorage.getItem(csrfKey);
  if (csrf) {
    headers['x-moxd-csrf'] = csrf;
  }
  const resp = await fetch(root + 'api/' + method, {
    method: 'POST',
    headers,
    body: JSON.stringify(params),
    credentials: 'same-origin',
  });
  let data: { result?: unknown; error?: ApiErrorBody };
  try {
    data = await resp.json();
  } catch {
    throw new ApiError({ code: 'server:error', message: 'HTTP ' + resp.status });
  }
  if (data.error) {
    throw new ApiError(data.error);
  }
  return data.result;
}

function needsLogin(e: unknown): boolean {
  return e instanceof ApiError && (e.code === 'user:noAuth' || e.code === 'user:badAuth' || e.code === 'user:csrf');
}

// An API call; without a valid session the login form is shown and the
// call is made again after the login.
function call(method: string, params: object): Promise<unknown> {
  return raw(method, params).catch((e: unknown) => {
    if (!needsLogin(e)) {
      throw e;
    }
    return new Promise((resolve, reject) => {
      retries.push(() => raw(method, params).then(resolve, reject));
      const code = (e as ApiError).code;
      showLogin(code === 'user:noAuth' ? '' : 'Your session has ended. Please log in again.');
    });
  });
}

function showLogin(message: string): void {
  const msg = document.getElementById('login-message');
  if (msg) {
    msg.textContent = message;
  }
  const dialog = document.getElementById('login-dialog') as HTMLDialogElement | null;
  if (dialog && !dialog.open) {
    dialog.showModal();
  }
  const first = document.querySelector<HTMLInputElement>('#login-form input');
  first?.focus();
}

async function login(form: HTMLFormElement): Promise<void> {
  const data = new FormData(form);
  const password = String(data.get('password') || '');
  const token = await raw('LoginPrep', {});
  const params: Record<string, string> = { loginToken: String(token), password };
  if (!admin) {
    params.username = String(data.get('username') || '');
  }
  const csrf = await raw('Login', params);
  localStorage.setItem(csrfKey, String(csrf));
}

function formParams(form: HTMLFormElement): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [k, v] of new FormData(form).entries()) {
    if (k !== 'csrf' && typeof v === 'string') {
      params[k] = v;
    }
  }
  return params;
}

// Password strength from length and kinds of characters; the password
// itself is never shown.
function strength(p: string): string {
  if (p === '') {
    return '';
  }
  let score = 0;
  if (p.length >= 8) score++;
  if (p.length >= 12) score++;
  if (p.length >= 16) score++;
  const kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((r) => r.test(p)).length;
  if (kinds >= 3) score++;
  if (p.length < 8) {
    return 'Strength: too short';
  }
  return 'Strength: ' + ['weak', 'weak', 'fair', 'good', 'strong'][score];
}

function fillCsrf(): void {
  const csrf = localStorage.getItem(csrfKey) || '';
  document.querySelectorAll<HTMLInputElement>('input[name="csrf"]').forEach((i) => {
    i.value = csrf;
  });
}

function setup(): void {
  fillCsrf();
  const loginForm = document.getElementById('login-form') as HTMLFormElement | null;
  loginForm?.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const msg = document.getElementById('login-message');
    const button = loginForm.querySelector('button');
    if (button) button.disabled = true;
    try {
      await login(loginForm);
      const pending = retries;
      retries = [];
      const dialog = document.getElementById('login-dialog') as HTMLDialogElement | null;
      dialog?.close();
      for (const r of pending) {
        await r();
      }
      location.reload();
    } catch (e) {
      if (msg) {
        msg.textContent = e instanceof Error ? e.message : String(e);
      }
    } finally {
      if (button) button.disabled = false;
    }
  });

  document.querySelectorAll<HTMLFormElement>('form[data-call]').forEach((form) => {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const confirmText = form.dataset.confirm;
      if (confirmText && !window.confirm(confirmText)) {
        return;
      }
      const method = form.dataset.call || '';
      const button = form.querySelector('button');
      if (button) button.disabled = true;
      setStatus('Working…');
      try {
        await call(method, formParams(form));
        setStatus(form.dataset.success || 'Done.');
        form.reset();
        setTimeout(() => location.reload(), 600);
      } catch (e) {
        setStatus(e instanceof Error ? e.message : String(e), true);
      } finally {
        if (button) button.disabled = false;
      }
    });
  });

  document.querySelectorAll<HTMLInputElement>('input[data-strength]').forEach((input) => {
    const out = document.getElementById(input.dataset.strength || '');
    input.addEventListener('input', () => {
      if (out) {
        out.textContent = strength(input.value);
      }
    });
  });

  document.querySelectorAll<HTMLFormElement>('form[data-logout]').forEach((form) => {
    form.addEventListener('submit', () => {
      fillCsrf();
      // The form posts the token; it is useless afterwards.
      setTimeout(() => localStorage.removeItem(csrfKey), 0);
    });
  });
}

setup();
