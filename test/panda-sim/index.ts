/** The PanDA simulator for tests: start it in-process with startPandaSim, or run main.ts. */
export { HOUR, ManualClock, MINUTE, type SimClock, systemClock } from './clock';
export {
  type Fault,
  type FaultKind,
  type PandaSim,
  type SimCall,
  type SimControl,
  type SimOptions,
  startPandaSim,
} from './server';
export { DEFAULT_TIMERS, type SimJob, SimState, type SimTimers } from './state';
