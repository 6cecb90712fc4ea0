/** The dashboard's "Rotate the API key?" dialog, shared by the key cards of both key modes. */
import { newIdempotencyKey } from '../app.ts';
import { busy, h, mount, type Child, type Notice } from '../dom.ts';
import { describeError } from '../messages.ts';

export interface RotateQuestion {
  /** What rotating does in this mode (the old key's fate). */
  question: Child;
  /** Controls between the question and the buttons (e.g. the overlap choice). */
  extra?: Child;
  /** Rotates, with one Idempotency-Key per confirmation (a retried click cannot rotate twice); throws on failure. */
  run: (idempotencyKey: string) => Promise<void>;
}

/**
 * The dialog box `opener` opens: `ask()` (called on each opening) gives the question and the rotation. "Rotate now"
 * and Cancel, with the focus on Cancel: Enter (even twice) does not rotate; Escape closes unless a rotation is under
 * way. While `run` works the box reads "Rotating…" (aria-busy, disabled); it closes when `run` succeeds, and its error
 * goes to `status`. Returns the box, hidden until opened.
 */
export function rotateDialog(opener: HTMLButtonElement, status: Notice, ask: () => RotateQuestion): HTMLElement {
  const box = h('div', { class: 'confirm-box', hidden: true, role: 'alertdialog', 'aria-label': 'Rotate the API key?', 'aria-describedby': 'rotate-question' });
  const close = (): void => {
    box.hidden = true;
    box.replaceChildren();
    opener.focus();
  };
  box.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !box.querySelector('[aria-busy]')) close();
  });
  opener.addEventListener('click', () => {
    const idempotencyKey = newIdempotencyKey('rotate');
    const { question, extra, run } = ask();
    const go = h('button', { type: 'button', class: 'danger' }, 'Rotate now');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    mount(box, h('p', { id: 'rotate-question' }, question), extra, h('div', { class: 'actions' }, go, cancel));
    box.hidden = false;
    cancel.focus();
    cancel.addEventListener('click', close);
    go.addEventListener('click', () => {
      status.clear();
      void busy(
        box,
        'Rotating…',
        async () => {
          await run(idempotencyKey);
          box.hidden = true;
          opener.focus();
        },
        go,
      ).catch((error: unknown) => status.show(describeError(error), 'error'));
    });
  });
  return box;
}
