import type { AuthState, LogoutReport } from '../lib';
import type { Device, Me } from './api';
import type { Attacker, ReplayResult } from './attacker';
import { h } from './dom';
import { ago, clock, device, shortId, timeOfDay } from './format';

export interface ViewModel {
  auth: AuthState;
  profile: Me | null;
  devices: Device[] | null;
  devicesError: string | null;
  /** Bumped on every load of the device list (tests wait for it). */
  devicesVersion: number;
  lastReport: LogoutReport | null;
  busy: 'signin' | 'logout' | 'logout-all' | null;
  attacker: Attacker;
  pendingServerLogout: boolean;
}

export interface Actions {
  signIn(username: string, password: string): void;
  logout(scope: 'current' | 'all'): void;
  retryRestore(): void;
  reloadDevices(): void;
  revoke(sessionId: string): void;
  steal(): void;
  replay(): void;
}

export function header(vm: ViewModel): HTMLElement {
  const { auth } = vm;
  const pill =
    auth.status === 'signedIn' ? h('span', { class: 'pill pill-on', testid: 'status' }, `Signed in as ${auth.user ?? '?'}`)
    : auth.status === 'restoring' ? h('span', { class: 'pill pill-wait', testid: 'status' }, 'Restoring session…')
    : h('span', { class: 'pill pill-off', testid: 'status' }, 'Signed out');
  return h(
    'header',
    { class: 'topbar' },
    h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('strong', {}, 'cleanexit'), h('span', { class: 'tagline' }, 'logout that really ends the session')),
    pill,
  );
}

/** What the user typed survives re-rendering the form (busy state, error message). */
const DEMO_PASSWORD = 'correct horse battery staple';
const draft = { username: 'alice', password: DEMO_PASSWORD };

/** After a sign-in, forget what was typed (the published demo password is the default). */
export function forgetDraftPassword(): void {
  draft.password = DEMO_PASSWORD;
}

export function signInCard(vm: ViewModel, actions: Actions): HTMLElement {
  const input = (name: keyof typeof draft, props: Record<string, unknown>) =>
    h('input', { name, value: draft[name], required: true, testid: name, oninput: (e: Event) => (draft[name] = (e.target as HTMLInputElement).value), ...props });
  const username = input('username', { autocomplete: 'username' });
  const password = input('password', { type: 'password', autocomplete: 'current-password' });
  const form = h(
    'form',
    {
      class: 'card',
      testid: 'signin-form',
      onsubmit: (event: Event) => {
        event.preventDefault();
        actions.signIn(username.value, password.value);
      },
    },
    h('h2', {}, 'Sign in'),
    h('label', {}, 'Username', username),
    h('label', {}, 'Password', password),
    vm.auth.error ? h('p', { class: 'error', testid: 'signin-error', role: 'alert' }, vm.auth.error) : null,
    h('button', { type: 'submit', class: 'primary', disabled: vm.busy === 'signin', testid: 'signin' }, vm.busy === 'signin' ? 'Signing in…' : 'Sign in'),
    h('p', { class: 'hint' }, 'Demo users: ', h('code', {}, 'alice'), ' and ', h('code', {}, 'bob'), ', password ', h('code', {}, 'correct horse battery staple'), '.'),
  );
  return form;
}

export function restoringCard(vm: ViewModel, actions: Actions): HTMLElement {
  return h(
    'section',
    { class: 'card', testid: 'restoring' },
    h('h2', {}, 'Restoring your session…'),
    h('p', {}, 'The access token lived in memory only, so after a reload this page asks ', h('code', {}, 'POST /auth/refresh'), ' for a new one with the HttpOnly refresh cookie.'),
    vm.auth.error ? h('p', { class: 'error', role: 'alert' }, vm.auth.error) : null,
    h('div', { class: 'row' }, h('button', { onclick: actions.retryRestore }, 'Retry'), logoutButtons(vm, actions)),
  );
}

export function accountView(vm: ViewModel, actions: Actions): HTMLElement[] {
  const { profile, auth } = vm;
  const profileCard = h(
    'section',
    { class: 'card', testid: 'profile' },
    h('h2', {}, 'Profile'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'User'), h('dd', { testid: 'profile-user' }, profile?.sub ?? auth.user ?? '…'),
      h('dt', {}, 'Session'), h('dd', { testid: 'profile-session' }, h('code', {}, shortId(profile?.session_id ?? auth.sessionId))),
      h('dt', {}, 'Access token'), h('dd', {}, profile ? `issued ${clock(profile.iat)}, expires ${clock(profile.exp)}` : '…', h('span', { class: 'muted' }, ' · in memory only')),
    ),
    h('div', { class: 'row' }, logoutButtons(vm, actions)),
  );
  return [profileCard, devicesCard(vm, actions)];
}

function logoutButtons(vm: ViewModel, actions: Actions): HTMLElement {
  return h(
    'span',
    { class: 'row' },
    h('button', { class: 'primary', testid: 'logout', disabled: vm.busy !== null, onclick: () => actions.logout('current') }, vm.busy === 'logout' ? 'Logging out…' : 'Log out'),
    h('button', { class: 'danger', testid: 'logout-all', disabled: vm.busy !== null, onclick: () => actions.logout('all') }, vm.busy === 'logout-all' ? 'Logging out everywhere…' : 'Log out everywhere'),
  );
}

function devicesCard(vm: ViewModel, actions: Actions): HTMLElement {
  const listed = [...(vm.devices ?? [])].sort((a, b) => Number(b.current) - Number(a.current) || b.created_at - a.created_at);
  const rows = listed.map((d) =>
    h(
      'tr',
      { testid: 'device', 'data-session': d.session_id, 'data-current': String(d.current) },
      h('td', {}, h('strong', {}, device(d.user_agent)), h('div', { class: 'muted' }, h('code', {}, shortId(d.session_id)), d.ip ? ` · ${d.ip}` : '')),
      h('td', {}, ago(d.created_at)),
      h('td', {}, ago(d.last_seen)),
      h('td', { class: 'actions' }, d.current ? h('span', { class: 'tag' }, 'this browser') : h('button', { class: 'small', testid: 'revoke', onclick: () => actions.revoke(d.session_id) }, 'Revoke')),
    ),
  );
  return h(
    'section',
    { class: 'card', testid: 'devices', 'data-version': String(vm.devicesVersion) },
    h('div', { class: 'card-head' }, h('h2', {}, 'Your devices'), h('button', { class: 'small', testid: 'reload-devices', onclick: actions.reloadDevices }, 'Refresh')),
    vm.devicesError ? h('p', { class: 'error' }, vm.devicesError) : null,
    vm.devices === null
      ? h('p', { class: 'muted' }, 'Loading…')
      : h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Device'), h('th', {}, 'Signed in'), h('th', {}, 'Last seen'), h('th', {}, ''))), h('tbody', {}, ...rows)),
    h('p', { class: 'hint' }, 'Each row is a server session. Revoking one ends its access and refresh tokens at once.'),
  );
}

export function reportNotice(report: LogoutReport | null, pendingServerLogout: boolean): HTMLElement | null {
  if (!report && !pendingServerLogout) return null;
  if (!report) {
    return h('div', { class: 'notice warn', testid: 'notice' }, 'A logout has not reached the server yet; it is retried until it does.');
  }
  const { server, cleanup } = report;
  const revokedSessions = Array.isArray((server.revoked as { sessions?: unknown } | null)?.sessions)
    ? ((server.revoked as { sessions: unknown[] }).sessions.length)
    : null;
  const { text, tone } = noticeText(report, revokedSessions);
  const local = [
    cleanup.stateReset && 'state reset',
    cleanup.purged && 'storage purged',
    cleanup.keyForgotten && 'key shredded',
    cleanup.announced && 'other tabs told',
    cleanup.navigated && 'back to /',
  ].filter(Boolean).join(' · ');
  return h(
    'div',
    { class: `notice ${tone}`, testid: 'notice', 'data-outcome': server.outcome, 'data-reason': report.reason },
    h('div', {}, text),
    h('div', { class: 'muted' }, `This browser: ${local}${cleanup.errors.length ? ` · errors: ${cleanup.errors.join('; ')}` : ''}`),
  );
}

/**
 * What the page may say. Only `revoked` (the server answered 200) is "the server ended the
 * session"; `already-ended` is "it had already ended"; anything else claims nothing (issue 9).
 */
function noticeText(report: LogoutReport, revokedSessions: number | null): { text: string; tone: string } {
  const { server } = report;
  const http = server.status !== null ? `HTTP ${server.status}${server.detail ? `: ${server.detail}` : ''}` : server.detail ?? '';
  const ended = server.outcome === 'revoked' || server.outcome === 'already-ended';
  if (report.reason === 'other-tab') return { tone: 'ok', text: 'Logged out in another tab; this tab forgot the session too.' };
  if (report.reason === 'refresh-reused')
    return { tone: 'warn', text: "The server saw this session's refresh token used twice (possible theft) and ended the session. This browser forgot it." };
  if (report.reason === 'refresh-raced')
    return ended
      ? { tone: 'warn', text: "Someone else refreshed this session with a copy of its cookie (possible theft). The server ended the session: their tokens stop working too. This browser forgot it." }
      : { tone: 'warn', text: `Someone else refreshed this session with a copy of its cookie (possible theft), and the server did not confirm that it ended the session (${http || server.outcome}). This browser forgot it.` };
  if (report.reason === 'session-ended' && server.outcome !== 'revoked')
    return { tone: 'ok', text: 'Your session was ended elsewhere. This browser forgot it.' };
  if (server.outcome === 'revoked')
    return {
      tone: 'ok',
      text: report.scope === 'all'
        ? `Logged out everywhere: the server ended ${revokedSessions ?? 'every'} session(s) and refuses any older token.`
        : 'Logged out: the server ended this session; its tokens stop working now.',
    };
  if (server.outcome === 'already-ended') return { tone: 'ok', text: `Logged out. The server had already ended this session (${http}).` };
  if (server.outcome === 'rejected')
    return { tone: 'warn', text: `Logged out on this device. The server did not recognise this browser's credentials (${http}), so nothing was confirmed revoked.` };
  const why = server.outcome === 'error' ? `answered HTTP ${server.status}` : server.outcome === 'timeout' ? 'did not answer in time' : 'could not be reached';
  return { tone: 'warn', text: `Logged out on this device, but the server ${why}. The session is revoked as soon as it answers again.` };
}

export function attackerPanel(vm: ViewModel, actions: Actions): HTMLElement {
  const { attacker, auth } = vm;
  const signedIn = auth.status === 'signedIn';
  const replayedAfterLogout = attacker.replays.some((r) => r.afterLogout);
  const step = (n: number, label: string, done: boolean, current: boolean) =>
    h('li', { class: done ? 'done' : current ? 'current' : '' }, h('span', { class: 'num' }, done ? '✓' : String(n)), label);
  const loggedOutSinceTheft = attacker.stolen !== null && !signedIn;
  const latest = attacker.replays[0];
  return h(
    'aside',
    { class: 'attacker', testid: 'attacker' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Attacker'), h('span', { class: 'tag tag-dark' }, 'outside the app')),
    h('p', { class: 'lead' }, 'Keeps a copy of your access token — XSS, a leaked log or a shared machine is all it takes — and replays it against ', h('code', {}, 'GET /me'), ' with no cookies.'),
    h(
      'ol',
      { class: 'steps' },
      step(1, 'Sign in', signedIn || attacker.stolen !== null, !signedIn && attacker.stolen === null),
      step(2, 'Steal the token', attacker.stolen !== null, signedIn && attacker.stolen === null),
      step(3, 'Log out', loggedOutSinceTheft, signedIn && attacker.stolen !== null),
      step(4, 'Replay it → 401', replayedAfterLogout && latest?.status === 401, loggedOutSinceTheft && !replayedAfterLogout),
    ),
    h(
      'div',
      { class: 'row' },
      h('button', { testid: 'steal-token', disabled: !signedIn, onclick: actions.steal }, 'Steal access token'),
      h('button', { class: 'primary', testid: 'replay', disabled: attacker.stolen === null, onclick: actions.replay }, 'Replay GET /me'),
    ),
    attacker.stolen
      ? h(
          'div',
          { class: 'stolen' },
          h('div', { class: 'muted' }, `Stolen at ${timeOfDay(attacker.stolenAt ?? new Date())}`),
          h('code', { class: 'token', testid: 'stolen-token', title: 'the stolen access token' }, attacker.stolen),
        )
      : null,
    latest ? verdict(latest) : null,
    attacker.replays.length
      ? h('ul', { class: 'log', testid: 'replay-log' }, ...attacker.replays.map((r) => h('li', { class: tone(r), 'data-status': String(r.status ?? 'none') }, h('span', { class: 'time' }, timeOfDay(r.at)), h('span', { class: 'code' }, r.status === null ? '—' : String(r.status)), h('span', {}, `${r.afterLogout ? 'after logout: ' : ''}${r.detail}`))))
      : null,
    attacker.stolen
      ? h('details', {}, h('summary', {}, 'Replay it from a terminal'), h('pre', { testid: 'curl' }, `curl -i -H "Authorization: Bearer ${attacker.stolen}" \\\n  ${location.origin}/me`))
      : null,
  );
}

function tone(result: ReplayResult): string {
  if (result.status === null) return 'warn';
  if (result.status >= 200 && result.status < 300) return 'bad';
  return result.status === 401 ? 'good' : 'warn';
}

function verdict(result: ReplayResult): HTMLElement {
  const t = tone(result);
  const headline =
    t === 'bad'
      ? result.afterLogout ? 'The stolen token still works after logout!' : 'The stolen token works: you are still signed in. Now log out.'
      : t === 'good'
        ? 'Rejected: logging out really ended the session.'
        : 'No verdict: the server did not answer normally.';
  return h(
    'div',
    { class: `verdict ${t}`, testid: 'verdict', 'data-status': String(result.status ?? 'none') },
    h('span', { class: 'big' }, result.status === null ? '—' : String(result.status)),
    h('span', {}, h('strong', {}, headline), h('br', {}), h('span', { class: 'muted' }, result.detail)),
  );
}

export function inspector(vm: ViewModel): HTMLElement {
  const entries: [string, string][] = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const key = localStorage.key(i);
    if (key !== null) entries.push([key, localStorage.getItem(key) ?? '']);
  }
  const cookies = document.cookie ? document.cookie.split(';').map((c) => c.split('=')[0]?.trim() ?? '') : [];
  const token = vm.auth.accessToken;
  return h(
    'section',
    { class: 'card inspector', testid: 'inspector' },
    h('h2', {}, 'What this browser keeps'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Memory'), h('dd', {}, token ? h('span', {}, 'access token ', h('code', {}, `${token.slice(0, 12)}…`)) : h('span', { class: 'muted' }, 'no access token')),
      h('dt', {}, 'localStorage'),
      h('dd', { testid: 'inspector-storage' }, entries.length
        ? h('ul', { class: 'plain' }, ...entries.map(([k, v]) => h('li', {}, h('code', {}, k), ' ', h('span', { class: 'muted' }, v.startsWith('cx1.') ? `AES-GCM ciphertext (${v.length} chars)` : v.slice(0, 24)))))
        : h('span', { class: 'muted' }, 'empty')),
      h('dt', {}, 'Cookies'),
      h('dd', {}, cookies.length ? h('span', {}, ...cookies.map((c) => h('code', { class: 'chip' }, c))) : h('span', { class: 'muted' }, 'none visible to script'), h('div', { class: 'muted' }, 'The refresh token is an HttpOnly cookie: script (and XSS) cannot read it.')),
    ),
  );
}
