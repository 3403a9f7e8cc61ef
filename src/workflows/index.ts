// Every workflow type the central worker registers.

export { instanceWorkflow } from './instance';
export { recordEventWorkflow } from './pipes';
export { queueWorkflow } from './queue';
export { workerLifecycleWorkflow } from './workerLifecycle';
