/**
 * Default navigation for `performLogout`: a same-document history replace plus a `popstate`
 * event, which is what client-side routers listen to. `replace` rather than `push`, so the
 * signed-in entry is not one Back away. Routers with their own API (react-router's `navigate`,
 * a framework's `router.replace`) are injected instead.
 */
export type Navigate = (to: string) => void | Promise<void>;

export const navigateWithHistory: Navigate = (to) => {
  const here = window.location.pathname + window.location.search + window.location.hash;
  if (here !== to) window.history.replaceState(null, '', to);
  window.dispatchEvent(new PopStateEvent('popstate'));
};
