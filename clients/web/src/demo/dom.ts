/**
 * A small `h()`: elements are built with properties and `textContent`, never from HTML strings,
 * so nothing the server or a user sends can turn into markup (there is no innerHTML anywhere).
 */
export type Child = Node | string | number | null | undefined | false;
export type Props = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value as EventListener);
    } else if (name === 'testid') {
      el.dataset['testid'] = String(value);
    } else if (typeof value === 'boolean' || name === 'value') {
      (el as unknown as Record<string, unknown>)[name] = value;
    } else {
      el.setAttribute(name, String(value));
    }
  }
  el.append(...nodes(children));
  return el;
}

export function replace(target: Element, ...children: Child[]): void {
  target.replaceChildren(...nodes(children));
}

function nodes(children: Child[]): (Node | string)[] {
  return children
    .filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false)
    .map((c) => (typeof c === 'number' ? String(c) : c));
}
