/** A tiny element builder: `h('button', { type: 'button', onclick }, 'Copy')`. Text is always text, never HTML. */

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined | ((event: Event) => void);
export type Attrs = Record<string, AttrValue>;

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
    return;
  }
  parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
}

function setAttrs(el: Element, attrs: Attrs | null | undefined): void {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(name.replace(/^on/, ''), value);
    } else if (name === 'value' && 'value' in el) {
      (el as HTMLInputElement).value = String(value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replaces an element's children. */
export function mount(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A labelled form field; the input gets an id so the label's `for` points at it. */
let fieldCount = 0;
export function field(label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLDivElement {
  fieldCount += 1;
  const id = input.id || `field-${fieldCount}`;
  input.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl);
}

/** A region that announces its text to screen readers; `show` sets it, `clear` empties it. */
export interface Notice {
  el: HTMLDivElement;
  show(text: string | Node, kind?: 'error' | 'success' | 'info'): void;
  clear(): void;
}

export function notice(): Notice {
  const el = h('div', { class: 'notice', hidden: true });
  return {
    el,
    show(text, kind = 'error') {
      el.className = `notice notice-${kind}`;
      // role=alert for errors (announced at once), status for the rest.
      el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
      el.hidden = false;
      mount(el, text);
    },
    clear() {
      el.hidden = true;
      el.replaceChildren();
    },
  };
}

/**
 * Disables a form's controls and marks its submit button (or `indicator`, the button that started the task, where
 * there is no submit button) busy while `task` runs: the button reads `label` and has aria-busy.
 */
export async function busy<T>(form: HTMLFormElement | HTMLElement, label: string, task: () => Promise<T>, indicator?: HTMLButtonElement): Promise<T> {
  const controls =
    form instanceof HTMLButtonElement ? [form] : [...form.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input, select, textarea')];
  const submit = indicator ?? form.querySelector<HTMLButtonElement>('button[type=submit]') ?? (form instanceof HTMLButtonElement ? form : null);
  const original = submit?.textContent ?? '';
  const wasDisabled = controls.map((c) => c.disabled);
  controls.forEach((c) => (c.disabled = true));
  if (submit) {
    submit.textContent = label;
    submit.setAttribute('aria-busy', 'true');
  }
  try {
    return await task();
  } finally {
    controls.forEach((c, i) => (c.disabled = wasDisabled[i] ?? false));
    if (submit) {
      submit.textContent = original;
      submit.removeAttribute('aria-busy');
    }
  }
}

/** Copies text; falls back to a hidden textarea where the Clipboard API is unavailable (plain http, old browsers). */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h('textarea', { class: 'visually-hidden', readonly: true }, text);
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}
