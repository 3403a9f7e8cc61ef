/**
 * What the test runner (test/run.ts) provides to every test process through the environment.
 * Integration tests call these; unit tests must not need them.
 */
export function testDatabaseUrl(): string {
  const url = process.env.HARVESTER_TEST_DATABASE_URL;
  if (!url)
    throw new Error('HARVESTER_TEST_DATABASE_URL is not set: run integration tests through `npm test`');
  return url;
}

export function testTemporalAddress(): string {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: run integration tests through `npm test`');
  return address;
}

export const TEST_NAMESPACE = process.env.TEMPORAL_NAMESPACE ?? 'default';
