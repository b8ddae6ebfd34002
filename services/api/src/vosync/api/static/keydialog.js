// The X-API-Key prompt: a modal dialog that resolves with the key typed, or "" when it is cleared.

export class KeyDialog {
  constructor(dialog) {
    this.dialog = dialog;
    this.form = dialog.querySelector("form");
    this.input = dialog.querySelector("#key-input");
    this.reason = dialog.querySelector("#key-reason");
    this.waiters = [];
    this.form.addEventListener("submit", () => this.settle(this.input.value.trim()));
    dialog.querySelector("#key-clear").addEventListener("click", () => {
      this.dialog.close();
      this.settle("");
    });
    dialog.addEventListener("cancel", () => this.settle(null));
  }

  get isOpen() {
    return this.dialog.open;
  }

  /** Shows the dialog (once, however many callers ask) and resolves with the key or null. */
  ask(reason, current = "") {
    if (reason) this.reason.textContent = reason;
    this.input.value = current;
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  settle(value) {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve(value);
  }
}
