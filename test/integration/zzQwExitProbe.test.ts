import { test } from 'node:test';
import { startTestStack } from '../helpers/stack';
test('probe', async () => {
  const s = await startTestStack({ queueConfig: () => ({}) });
  await s.close();
  const t0 = Date.now();
  process.on('exit', () => console.log('exit after', Date.now() - t0));
});
