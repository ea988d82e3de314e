/** DOM helpers every view uses: find an element by id, build one, show a notice, save a file. */

export const $ = (id) => document.getElementById(id);

/**
 * Creates an element. `props`: attributes (class, href, ...), `on*` functions as listeners,
 * `hidden`/`disabled` booleans. Children: nodes or text (always as text, never as HTML).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Shows `text` in a notice element (hidden when empty). */
export function setNotice(el, text) {
  el.textContent = text ?? '';
  el.hidden = !text;
}

/** Hands `blob` to the browser as a download named `filename`, through a temporary link. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // The browser may still be reading the object URL after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
