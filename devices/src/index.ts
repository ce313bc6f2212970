export * from './profile/schema.js';
export { parseProfile, loadProfileFile, ProfileError } from './profile/load.js';
export { builtInProfile, builtInProfiles } from './profile/registry.js';
export { modbusPointsOf, decodePoint, encodePoint, type ModbusPoint } from './modbus/points.js';
export { planProfileReads, decodePlannedRead, type PlannedRead, type PlanOptions, type PointResult } from './modbus/read-plan.js';
export { startMeterSimulator, type MeterSimulator, type MeterSimulatorOptions } from './simulator/meter-simulator.js';
export { residentialLoadShape, ElectricMeterBehaviour } from './simulator/electric-meter.js';
