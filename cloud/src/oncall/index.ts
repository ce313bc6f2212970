/**
 * Teams, on-call schedules and escalation policies: who an alarm's work order goes to, and who
 * is paged, when and how, until somebody acknowledges it.
 */
export { ONCALL_MIGRATION } from './schema.js';
export { OnCall, type PagedResponder, type OverrideInput } from './store.js';
export { OnCallRefusal, type OnCallRefusalCode } from './errors.js';
export { onCallAt, type OnCallNow, type Rotation, type Cover } from './rotation.js';
export { escalationPlan, type PlannedPage } from './escalation.js';
export * from './model.js';
export { seesTeam, siteBeyond } from './visibility.js';
