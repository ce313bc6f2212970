import type { WorkOrderStatus } from './api.js';

/**
 * What the button that moves a work order from `from` to `to` says. Which moves are legal is
 * the hub's to say (`legal_moves` of GET /api/v1/work-orders/{id}); this only names them.
 */
export function moveLabel(from: WorkOrderStatus, to: WorkOrderStatus): string {
  switch (to) {
    case 'acknowledged':
      return 'Acknowledge';
    case 'in_progress':
      return from === 'on_hold' ? 'Resume work' : 'Start work';
    case 'on_hold':
      return 'Put on hold';
    case 'resolved':
      return 'Resolve';
    case 'closed':
      return 'Close';
    // A resolved order whose fault is not fixed after all goes back to its assignee.
    case 'assigned':
      return from === 'resolved' ? 'Reopen' : 'Mark assigned';
    case 'open':
      return 'Back to open';
    case 'cancelled':
      return 'Cancel order';
  }
}
