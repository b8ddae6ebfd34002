// The writer's change notes of the shown instance over SSE: each says which gateway APIs' data a
// commit changed, so the page reloads the rows it shows (new ASR, ACD and calls) instead of being
// sent every changed figure of every gateway. The browser reconnects a dropped stream by itself; a
// refused one is reopened here with a backoff. A gap needs no catch-up: the next note reloads.

const EVENT_NAME = "gateways.changed";
const MAX_BACKOFF_MS = 30_000;

export class ChangeFeed {
  /** @param {(note: {instance_id: number, changed: string[], synced: string[]}) => void} onNote */
  constructor(onNote) {
    this.onNote = onNote;
    this.source = null;
    this.url = null;
    this.timer = null;
    this.failures = 0;
    this.notes = 0; // received, for the page's own figures (and the browser test)
  }

  connect(url) {
    if (this.url === url && this.source) return;
    this.close();
    this.url = url;
    this.failures = 0;
    this.open();
  }

  open() {
    clearTimeout(this.timer);
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener(EVENT_NAME, (message) => {
      let note;
      try {
        note = JSON.parse(message.data);
      } catch {
        return;
      }
      this.notes += 1;
      if (note && Array.isArray(note.changed)) this.onNote(note);
    });
    source.onopen = () => {
      this.failures = 0;
    };
    source.onerror = () => {
      if (this.source !== source || source.readyState !== EventSource.CLOSED) return;
      this.failures += 1;
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures - 1, 5));
      this.source = null;
      this.timer = setTimeout(() => this.open(), delay);
    };
  }

  close() {
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
    this.url = null;
  }
}
