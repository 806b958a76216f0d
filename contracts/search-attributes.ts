import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes every job workflow carries, so the Web UI and
 * `temporal workflow list --query` can filter by tenant, type and job id.
 * The dev server registers them at start (see `searchAttributeFlags`).
 */
export const searchAttributes = {
  tenantId: defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD),
  jobType: defineSearchAttributeKey('JobType', SearchAttributeType.KEYWORD),
  jobId: defineSearchAttributeKey('JobId', SearchAttributeType.KEYWORD),
  jobLabels: defineSearchAttributeKey('JobLabels', SearchAttributeType.KEYWORD_LIST),
} as const;

const cliTypeNames: Record<string, string> = { KEYWORD: 'Keyword', KEYWORD_LIST: 'KeywordList' };

/** `--search-attribute Name=Keyword` flags for `temporal server start-dev`. */
export function searchAttributeFlags(): string[] {
  return Object.values(searchAttributes).flatMap((key) => ['--search-attribute', `${key.name}=${cliTypeNames[key.type]}`]);
}
