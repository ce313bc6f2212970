import type { WorkOrderStatus } from './api.js';
import { words } from './format.js';

/** An element with a class and its text (never HTML: what the hub sends is data, not markup). */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text) made.textContent = text;
  return made;
}

/** A small label whose look depends on its value (severity, priority, status, flag). */
export function badge(kind: string, value: string, text = value): HTMLElement {
  const span = element('span', kind, text);
  span.dataset[kind] = value;
  return span;
}

export const statusBadge = (status: WorkOrderStatus) => badge('status', status, words(status));
