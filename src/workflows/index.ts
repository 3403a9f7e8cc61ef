// Every workflow type the central worker registers.
export { recordEventWorkflow } from './pipes';
export { queueWorkflow } from './queue';
export { workerLifecycleWorkflow } from './workerLifecycle';
