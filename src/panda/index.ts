/** Public surface of the PanDA communicator. */

export type { EventRangeUpdateReply, PandaClientOptions, PandaCommunicator } from './client';
export { createPandaClient, MAX_BULK } from './client';
export type { PandaErrorKind } from './errors';
export { isPandaError, PandaError, TRANSPORT_STATUS_CODE } from './errors';
export { formatPandaDatetimeTag, formatPandaTime, formatPandaTimeMicro } from './format';
export type { AuthOptions } from './secrets';
export type { PandaLogger } from './transport';
export type * from './types';
