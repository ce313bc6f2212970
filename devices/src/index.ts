export * from './profile/schema.js';
export { parseProfile, loadProfileFile, ProfileError } from './profile/load.js';
export { builtInProfile, builtInProfiles } from './profile/registry.js';
export { modbusPointsOf, decodePoint, encodePoint, type ModbusPoint } from './modbus/points.js';
export { planProfileReads, decodePlannedRead, type PlannedRead, type PlanOptions, type PointResult } from './modbus/read-plan.js';
export { startMeterSimulator, type MeterSimulator, type MeterSimulatorOptions } from './simulator/meter-simulator.js';
export { residentialLoadShape, ElectricMeterBehaviour } from './simulator/electric-meter.js';
export { startRtuSlave, type RtuSlave, type RtuSlaveOptions } from './simulator/rtu-slave.js';
export { parseFault, type FaultSpec, type FaultPlan } from './simulator/faults.js';
export { startPtyPair, type PtyPair } from './simulator/pty-pair.js';
export { SlaveMemory, ModbusException } from './simulator/memory.js';
export { ProfileSlave } from './simulator/profile-slave.js';
export { startTcpSlave, type TcpSlave } from './simulator/tcp-slave.js';
export {
  eventBufferOf,
  headerSpan,
  decodeHeader,
  pendingCount,
  recordReads,
  decodeRecords,
  takeNew,
  type EventBufferHeader,
  type EventRecord,
  type RecordRead,
  type TakenEvents,
} from './modbus/event-buffer.js';
export {
  startDeviceSimulator,
  startControlServer,
  behaviourFor,
  type DeviceBehaviour,
  type DeviceSimulator,
  type DeviceSimulatorOptions,
  type ControlServer,
} from './simulator/device-simulator.js';
export { WaterMeterBehaviour, residentialWaterShape, DEFAULT_WATER_METER, type WaterMeterOptions } from './simulator/water-meter.js';
export { ElevatorBehaviour, DEFAULT_ELEVATOR, ELEVATOR_FAULTS, type ElevatorOptions, type Direction } from './simulator/elevator.js';
export {
  DoorControllerBehaviour,
  EventRing,
  DEFAULT_DOOR_CONTROLLER,
  type DoorControllerOptions,
  type AccessEvent,
} from './simulator/door-controller.js';
export { BarrierGateBehaviour, DEFAULT_BARRIER_GATE, type BarrierGateOptions, type ArmState } from './simulator/barrier-gate.js';
export { Timeline, ControlError, type ControlArgs } from './simulator/timeline.js';
export { parseAnyProfile, loadAnyProfileFile } from './profile/load.js';
export { builtInAnyProfile, builtInAnyProfiles } from './profile/registry.js';
export { dlt645PointsOf, decodeDlt645Point, encodeDlt645Point, type Dlt645Point } from './simulator/dlt645-profile.js';
export { Dlt645Meter } from './simulator/dlt645-meter.js';
export {
  startDlt645Simulator,
  dlt645ResponseDelay,
  DLT645_LINE,
  type Dlt645Simulator,
  type Dlt645SimulatorOptions,
  type Dlt645SimulatorStats,
  type Dlt645MeterOptions,
} from './simulator/dlt645-simulator.js';
export {
  opcuaPointsOf,
  parseBrowsePath,
  decodeOpcuaValue,
  encodeOpcuaValue,
  qualityOfStatus,
  type OpcuaPoint,
  type BrowseName,
} from './simulator/opcua-profile.js';
export { loadOpcuaStack, type OpcuaStack } from './simulator/opcua-stack.js';
export { startOpcuaSimulator, type OpcuaSimulator, type OpcuaSimulatorOptions, type OpcuaSimulatorStats } from './simulator/opcua-simulator.js';
