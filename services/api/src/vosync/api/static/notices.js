// Banners above the table, one per topic (api, live, vos, refresh), so a topic's newer message
// replaces its older one and clearing a topic never hides another topic's message.

export class Notices {
  constructor(container) {
    this.container = container;
    this.banners = new Map(); // topic → element
  }

  /**
   * @param {string} topic
   * @param {{level: "error"|"warn"|"info"|"ok", title: string, text?: string,
   *          action?: {label: string, run: () => void}, autoHideMs?: number}} notice
   */
  show(topic, { level, title, text = "", action, autoHideMs }) {
    let el = this.banners.get(topic);
    if (!el) {
      el = document.createElement("div");
      el.setAttribute("role", level === "error" ? "alert" : "status");
      el.dataset.testid = `banner-${topic}`;
      this.banners.set(topic, el);
      this.container.append(el);
    }
    el.className = `banner ${level}`;
    const strong = document.createElement("strong");
    strong.textContent = title;
    const span = document.createElement("span");
    span.className = "banner-text";
    span.textContent = text;
    el.replaceChildren(strong, span);
    if (action) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "ghost";
      button.textContent = action.label;
      button.addEventListener("click", action.run);
      el.append(button);
    }
    clearTimeout(el._hide);
    if (autoHideMs) el._hide = setTimeout(() => this.clear(topic), autoHideMs);
  }

  clear(topic) {
    const el = this.banners.get(topic);
    if (!el) return;
    clearTimeout(el._hide);
    el.remove();
    this.banners.delete(topic);
  }
}
