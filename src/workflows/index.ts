// Every workflow type the central worker registers.
export { recordEventWorkflow } from './pipes';
