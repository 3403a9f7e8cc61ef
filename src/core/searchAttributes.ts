/**
 * The project's custom search attributes. The dev-server script registers them (temporal/), the
 * workflows keep them current, and operators filter with them in the UI and `temporal workflow list`.
 * SQL visibility allows 10 Keyword and 3 Int attributes per namespace: this set stays well inside.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const HarvesterQueue = defineSearchAttributeKey('HarvesterQueue', SearchAttributeType.KEYWORD);
export const HarvesterInstance = defineSearchAttributeKey('HarvesterInstance', SearchAttributeType.KEYWORD);
export const HarvesterWorkerStatus = defineSearchAttributeKey(
  'HarvesterWorkerStatus',
  SearchAttributeType.KEYWORD,
);
export const HarvesterBatchId = defineSearchAttributeKey('HarvesterBatchId', SearchAttributeType.KEYWORD);
export const HarvesterResourceType = defineSearchAttributeKey(
  'HarvesterResourceType',
  SearchAttributeType.KEYWORD,
);
export const HarvesterKillReason = defineSearchAttributeKey(
  'HarvesterKillReason',
  SearchAttributeType.KEYWORD,
);
/** State of a queue workflow: running, paused, draining, paused-by-failures. */
export const HarvesterQueueState = defineSearchAttributeKey(
  'HarvesterQueueState',
  SearchAttributeType.KEYWORD,
);
export const HarvesterWorkerId = defineSearchAttributeKey('HarvesterWorkerId', SearchAttributeType.INT);

export const ALL_SEARCH_ATTRIBUTES = [
  HarvesterQueue,
  HarvesterInstance,
  HarvesterWorkerStatus,
  HarvesterBatchId,
  HarvesterResourceType,
  HarvesterKillReason,
  HarvesterQueueState,
  HarvesterWorkerId,
] as const;

/** The type names the `temporal` CLI expects (`--search-attribute Name=Keyword`). */
export function cliTypeName(type: SearchAttributeType): string {
  switch (type) {
    case SearchAttributeType.KEYWORD:
      return 'Keyword';
    case SearchAttributeType.INT:
      return 'Int';
    case SearchAttributeType.TEXT:
      return 'Text';
    case SearchAttributeType.DOUBLE:
      return 'Double';
    case SearchAttributeType.BOOL:
      return 'Bool';
    case SearchAttributeType.DATETIME:
      return 'Datetime';
    case SearchAttributeType.KEYWORD_LIST:
      return 'KeywordList';
    default:
      throw new Error(`unknown search attribute type ${String(type)}`);
  }
}
