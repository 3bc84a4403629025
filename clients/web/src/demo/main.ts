import './styles.css';
import {
  createCleanexitClient,
  finishPendingLogout,
  type LogoutReport,
  performLogout,
  restoreSession,
  signIn,
} from '../lib';
import { demoApi } from './api';
import { createAttacker } from './attacker';
import { h, replace } from './dom';
import { accountView, type Actions, attackerPanel, forgetDraftPassword, header, inspector, reportNotice, restoringCard, signInCard, type ViewModel } from './views';

const ACCOUNT_ROUTE = '/#/account';
const DEVICES_POLL_MS = 10_000;
const PENDING_RETRY_MS = 10_000;

const client = createCleanexitClient({ onLogoutReport: (report) => onReport(report) });
const { store } = client;
const calls = demoApi(client.api);
const attacker = createAttacker(() => render());

const vm: ViewModel = {
  auth: store.getState().auth,
  profile: null,
  devices: null,
  devicesError: null,
  devicesVersion: 0,
  lastReport: null,
  busy: null,
  attacker,
  pendingServerLogout: false,
};

const actions: Actions = {
  async signIn(username, password) {
    vm.busy = 'signin';
    vm.lastReport = null;
    render();
    await store.dispatch(signIn({ username, password }));
    forgetDraftPassword();
    vm.busy = null;
    render();
  },
  async logout(scope) {
    vm.busy = scope === 'all' ? 'logout-all' : 'logout';
    render();
    await store.dispatch(performLogout({ scope }));
    vm.busy = null;
    render();
  },
  retryRestore: () => void store.dispatch(restoreSession()),
  reloadDevices: () => void loadAccount(),
  async revoke(sessionId) {
    const result = await calls.revoke(sessionId);
    vm.devicesError = result.ok ? null : `Could not revoke: ${result.error}`;
    await loadAccount();
  },
  steal() {
    // What injected script would do: read the token from wherever the app keeps it.
    const token = store.getState().auth.accessToken;
    if (token) attacker.steal(token);
  },
  replay: () => void attacker.replay(store.getState().auth.status !== 'signedIn'),
};

function onReport(report: LogoutReport): void {
  vm.lastReport = report;
  vm.profile = null;
  vm.devices = null;
  vm.devicesError = null;
  vm.pendingServerLogout = report.pendingRetry;
  render();
}

async function loadAccount(): Promise<void> {
  if (store.getState().auth.status !== 'signedIn') return;
  const [me, sessions] = await Promise.all([calls.me(), calls.sessions()]);
  if (store.getState().auth.status !== 'signedIn') return; // a 401 above has logged us out
  if (me.ok) vm.profile = me.value;
  if (sessions.ok) vm.devices = sessions.value;
  vm.devicesVersion += 1;
  vm.devicesError = sessions.ok ? null : sessions.error;
  render();
}

// ---- rendering: the view follows the store; the URL follows the view -------------------------

const root = document.getElementById('root') ?? document.body;
const frame = {
  top: h('div'),
  notice: h('div'),
  main: h('div', { class: 'app-column' }),
  attacker: h('div', { class: 'attacker-column' }),
  inspector: h('div'),
};
root.append(
  frame.top,
  h('main', { class: 'layout' }, h('div', { class: 'app-column' }, frame.notice, frame.main, frame.inspector), frame.attacker),
  h('footer', { class: 'footer' }, 'Access token in memory · refresh token in an HttpOnly, SameSite=Strict cookie scoped to /auth · profile encrypted at rest (AES-GCM, non-extractable key) · logout = server revocation + local purge + every tab'),
);

let mountedView: string | null = null;
let mountedKey: string | null = null;

function render(): void {
  vm.auth = store.getState().auth;
  const view = vm.auth.status === 'signedIn' ? 'account' : vm.auth.status === 'restoring' ? 'restoring' : 'signin';
  syncUrl(view);
  replace(frame.top, header(vm));
  replace(frame.notice, view === 'signin' ? reportNotice(vm.lastReport, vm.pendingServerLogout) : null);
  // The account view has no inputs and is rebuilt each time; the others only when they change.
  const key = view === 'account' ? `account:${Math.random()}` : `${view}:${vm.busy}:${vm.auth.error}`;
  if (key !== mountedKey) {
    const content = view === 'account' ? accountView(vm, actions) : view === 'restoring' ? [restoringCard(vm, actions)] : [signInCard(vm, actions)];
    replace(frame.main, ...content);
    mountedKey = key;
  }
  if (view === 'account' && mountedView !== 'account') void loadAccount();
  mountedView = view;
  replace(frame.attacker, attackerPanel(vm, actions));
  replace(frame.inspector, inspector(vm));
}

function syncUrl(view: string): void {
  const here = location.pathname + location.hash;
  if (view === 'account' && here !== ACCOUNT_ROUTE) history.pushState(null, '', ACCOUNT_ROUTE);
  if (view === 'signin' && location.hash === '#/account') history.replaceState(null, '', '/');
}

// ---- life cycle -----------------------------------------------------------------------------

// The silent refresh at 80 % of the token's life is the library's (createCleanexit).
store.subscribe(() => {
  render();
});
window.addEventListener('popstate', render);
window.addEventListener('focus', () => void loadAccount());
setInterval(() => void loadAccount(), DEVICES_POLL_MS);
setInterval(() => replace(frame.inspector, inspector(vm)), 1000);

async function retryPendingLogout(): Promise<void> {
  const outcome = await store.dispatch(finishPendingLogout()).unwrap();
  vm.pendingServerLogout = outcome === 'failed';
  render();
}
window.addEventListener('online', () => void retryPendingLogout());
setInterval(() => {
  if (vm.pendingServerLogout) void retryPendingLogout();
}, PENDING_RETRY_MS);

async function start(): Promise<void> {
  render();
  await client.ready;
  // A logout that could not reach the server left its session alive: end it first.
  await retryPendingLogout();
  if (store.getState().auth.sessionId) await store.dispatch(restoreSession());
  document.documentElement.dataset['ready'] = 'true';
  render();
}

void start();
