import { LoggedOut } from './api.js';

/** One column: the class of its cells, its heading, and what a cell shows (text or elements, never HTML). */
export interface Column<T> {
  name: string;
  heading: string;
  cell: (record: T) => string | Node;
}

export interface LiveTableSpec<T extends { id: number }> {
  columns: Array<Column<T>>;
  /** Whether a record belongs in the table (an active alarm, an unfinished order); one that stops belonging leaves it. */
  belongs: (record: T) => boolean;
  order: (a: T, b: T) => number;
  /**
   * When a record last changed, to keep the newer of two copies: a list fetched on (re)connection
   * can be overtaken by the live feed while it is in flight.
   */
  changedAt: (record: T) => number;
  acknowledge: {
    /** Whether the record waits for somebody to acknowledge it: its row gets the button. */
    needed: (record: T) => boolean;
    /** Acknowledges through the API; resolves with the record as the hub has it now. */
    run: (record: T) => Promise<T>;
  };
  /** Opens a record's detail: its row gets a Details button, and a click on the row does the same. */
  details?: (record: T) => void;
  /** What the table says when it is empty. */
  empty: string;
}

/** A refusal or a failure, in words for the person looking at the panel. */
export function problemText(error: unknown): string {
  return error instanceof LoggedOut ? 'your session has ended: reload the page to log in again' : (error as Error).message;
}

/**
 * A panel's table of records kept live: filled from a fetched list, then updated one record at a
 * time from the live feed, with an Acknowledge button on each record that waits for one.
 */
export class LiveTable<T extends { id: number }> {
  private records = new Map<number, T>();
  /** Records whose acknowledgement is in flight: their buttons stay disabled meanwhile. */
  private readonly acknowledging = new Set<number>();
  private readonly body: HTMLTableSectionElement;
  private readonly emptyNote: HTMLElement;
  private readonly count: HTMLElement;
  private readonly problem: HTMLElement;

  constructor(
    panel: HTMLElement,
    private readonly spec: LiveTableSpec<T>,
  ) {
    this.count = panel.querySelector<HTMLElement>('.count')!;
    this.problem = panel.querySelector<HTMLElement>('.problem')!;
    const table = document.createElement('table');
    const headings = document.createElement('tr');
    for (const column of spec.columns) {
      const heading = document.createElement('th');
      heading.className = column.name;
      heading.textContent = column.heading;
      headings.append(heading);
    }
    headings.append(document.createElement('th'));
    table.createTHead().append(headings);
    this.body = table.createTBody();
    this.emptyNote = document.createElement('p');
    this.emptyNote.className = 'empty';
    this.emptyNote.textContent = spec.empty;
    panel.append(table, this.emptyNote);
  }

  /** Replaces every row with a fetched list, keeping any copy the live feed brought that is newer. */
  replaceAll(records: readonly T[]): void {
    const known = this.records;
    this.records = new Map();
    for (const record of records) {
      const newer = known.get(record.id);
      this.keep(newer && this.spec.changedAt(newer) > this.spec.changedAt(record) ? newer : record);
    }
    this.render();
  }

  /** Applies one record, from the live feed or from an answer of the API. */
  update(record: T): void {
    const shown = this.records.get(record.id);
    if (shown && this.spec.changedAt(shown) > this.spec.changedAt(record)) return;
    this.keep(record);
    this.render();
  }

  /** Shows what went wrong in the panel; without a message, clears it. */
  showProblem(message = ''): void {
    this.problem.textContent = message;
  }

  private keep(record: T): void {
    if (this.spec.belongs(record)) this.records.set(record.id, record);
    else this.records.delete(record.id);
  }

  private render(): void {
    const rows = [...this.records.values()].sort(this.spec.order).map((record) => this.row(record));
    this.body.replaceChildren(...rows);
    this.count.textContent = `(${rows.length})`;
    this.emptyNote.hidden = rows.length > 0;
  }

  private row(record: T): HTMLTableRowElement {
    const row = document.createElement('tr');
    row.dataset.id = String(record.id);
    for (const column of this.spec.columns) {
      const cell = row.insertCell();
      cell.className = column.name;
      cell.append(column.cell(record));
    }
    const actions = row.insertCell();
    actions.className = 'actions';
    if (this.spec.acknowledge.needed(record)) {
      const acknowledge = actionButton('Acknowledge', () => void this.acknowledge(record));
      acknowledge.disabled = this.acknowledging.has(record.id);
      actions.append(acknowledge);
    }
    const details = this.spec.details;
    if (details) {
      actions.append(actionButton('Details', () => details(record)));
      row.classList.add('opens');
      // A click anywhere on the row opens it too, but not one on the Acknowledge button.
      row.addEventListener('click', (event) => {
        if (!(event.target instanceof Element && event.target.closest('button'))) details(record);
      });
    }
    return row;
  }

  private async acknowledge(record: T): Promise<void> {
    this.acknowledging.add(record.id);
    this.render();
    try {
      this.update(await this.spec.acknowledge.run(record));
      this.showProblem();
    } catch (error) {
      this.showProblem(`Cannot acknowledge: ${problemText(error)}`);
    } finally {
      this.acknowledging.delete(record.id);
      this.render();
    }
  }
}

function actionButton(label: string, click: () => void): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = label;
  button.addEventListener('click', click);
  return button;
}
