// Live gateway.online events over Server-Sent Events, with status reporting and reconnects.
// The browser reconnects an EventSource by itself after a dropped connection; when the server
// refuses the stream outright (the EventSource closes) we reopen it ourselves with a backoff.

const EVENT_NAME = "gateway.online";
const MAX_BACKOFF_MS = 30_000;

export class LiveFeed {
  /**
   * @param {object} handlers
   * @param {(event: object) => void} handlers.onEvent  one parsed GatewayOnlineEvent
   * @param {(state: string, detail?: string) => void} handlers.onStatus  connecting | open | retrying | off
   * @param {() => void} handlers.onResume  the stream is open again after a gap: events may be missed
   */
  constructor({ onEvent, onStatus, onResume }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onResume = onResume;
    this.source = null;
    this.url = null;
    this.timer = null;
    this.failures = 0;
    this.hadGap = false;
  }

  connect(url) {
    if (this.url === url && this.source) return;
    this.close();
    this.url = url;
    this.hadGap = false;
    this.failures = 0;
    this.open();
  }

  open() {
    clearTimeout(this.timer);
    this.onStatus("connecting");
    const source = new EventSource(this.url);
    this.source = source;
    const handle = (message) => this.handle(message);
    source.addEventListener(EVENT_NAME, handle);
    source.addEventListener("message", handle); // a server that sends unnamed events
    source.onopen = () => {
      this.failures = 0;
      this.onStatus("open");
      if (this.hadGap) this.onResume();
      this.hadGap = false;
    };
    source.onerror = () => {
      if (this.source !== source) return;
      this.hadGap = true;
      this.failures += 1;
      if (source.readyState === EventSource.CLOSED) {
        // Refused (HTTP error or wrong content type): the browser will not retry on its own.
        const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures - 1, 5));
        this.onStatus("retrying", `reconnecting in ${Math.round(delay / 1000)} s`);
        this.source = null;
        this.timer = setTimeout(() => this.open(), delay);
      } else {
        this.onStatus("retrying", "reconnecting");
      }
    };
  }

  handle(message) {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch {
      return; // not an event of ours (a comment or keep-alive payload)
    }
    if (data && typeof data === "object" && data.gateway_name !== undefined) this.onEvent(data);
  }

  close() {
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
    this.url = null;
    this.onStatus("off");
  }
}
