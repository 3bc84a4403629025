/** Name of the double-submit CSRF cookie the server sets next to the HttpOnly refresh cookie. */
export const CSRF_COOKIE = 'cleanexit_csrf';

export type CookieReader = (name: string) => string | null;

/** Reads a script-visible cookie; `null` outside a browser or when absent. */
export const readDocumentCookie: CookieReader = (name) => {
  if (typeof document === 'undefined') return null;
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
};

/** Expires a script-visible cookie set with `Path=/` (the CSRF cookie). */
export function deleteDocumentCookie(name: string): void {
  if (typeof document === 'undefined') return;
  document.cookie = `${name}=; Max-Age=0; Path=/; SameSite=Strict`;
}
