/** DOM helpers every view uses: find an element by id, build one, show a notice. */

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
